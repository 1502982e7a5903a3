"""OVSDB, through ovsdbapp: what the switches' database says about their bridges."""
