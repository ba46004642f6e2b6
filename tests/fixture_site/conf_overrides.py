# --- the fixture site: appended to its copy of the project's docs/conf.py ---
extensions.append("fixture_claims")  # noqa: F821 (defined by conf.py above)
claims_scope = ["fixture."]  # the verification table lists, and every page must cite, these
suppress_warnings = []  # the fixture proves that an uncited claim fails the build
