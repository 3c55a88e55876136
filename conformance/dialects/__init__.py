"""The rule sets of the dialects, one module each, named as the dialect is everywhere:
the profile ``openai-chat`` (the top-level ``schemas/openai-chat/``, installed as package data:
see ``_schemas.py``), its rule set here in ``openai_chat.py``, and the reference server's
dialect in ``reference_server/dialects/openai_chat.py``. ``_common.py`` holds what they share.
Importing a module registers its rules (``_rules.rule``) under its rule set's name."""
