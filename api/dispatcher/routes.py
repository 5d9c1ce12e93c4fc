routers: list = []
