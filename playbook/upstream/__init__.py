"""The upstream the services call: a deterministic simulator and the httpx client bound to it."""
