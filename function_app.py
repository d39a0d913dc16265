"""Azure Functions entry point (Python v2 programming model): bindings and wiring only."""

import azure.functions as func

from handlers.triggers import bp

app = func.FunctionApp()
app.register_functions(bp)
