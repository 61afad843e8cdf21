"""A deterministic stand-in for every upstream the services call, chosen by host name,
and the httpx transports that mount it in-process or reach it served on loopback."""
