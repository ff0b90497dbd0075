"""The pure business rules: no framework, no database, "now" always passed in."""
