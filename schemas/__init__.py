"""The JSON Schemas that drive the checks, installed as the package ``conformance.schemas``
(``pyproject.toml`` maps this directory there): one directory per built-in profile (its
``profile.toml``, request, chunk and error schemas, example request), and the schemas of the
files a run writes (``report.schema.json``, ``transcript.schema.json``). A package only so
that ``importlib.resources`` finds it; ``conformance/_schemas.py`` is the one place that says
where it is."""
