"""The customer web pages and the staff console: server-rendered Django pages on the domain
services (`support.services` writes, `support.selectors` reads). Plain JavaScript in
`support/static/support/app.js` adds live updates, upload checks and progress, relative times,
canned replies and presence; every flow also works without it."""
