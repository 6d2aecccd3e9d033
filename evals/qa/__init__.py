"""质检: batch quality checks of human agents' own replies against the KB's rules and the service standards."""
