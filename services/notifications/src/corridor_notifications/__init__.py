"""The notifications service: e-mail, webhook and Maildir channels with multilingual templates."""
