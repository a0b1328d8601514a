"""The web UI: server-rendered pages (Jinja2) over the same queries and operations as the API.

Pages work without JavaScript; ``static/plumb.js`` adds inline edit without a reload, drag and
drop on the pipeline board and live import progress. Every page acts as the signed-in user
(``Source.UI``), so permissions, hidden fields and visibility are exactly the API's.
"""
