"""The work both variants call: the httpx client bound for the app's lifetime and the
readers of what upstream serves (a site's home page, its sitemaps, its pages' e-mail
addresses, a Places-style search). None of it touches the database."""
