# An empty ghl block and no ptd block at all.
ghl {}
