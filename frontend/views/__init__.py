"""Server-rendered pages. One module per audience: annotators, admins (approval desk), researchers."""
