"""The operator commands (manage.py ...) and the base they share."""
