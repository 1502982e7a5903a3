"""``python -m tegu_agent``: the same as the ``tegu-agent`` console script."""

import sys

from tegu_agent.main import main

sys.exit(main())
