"""Azure Functions entry point (Python v2 programming model): bindings and wiring only."""

import azure.functions as func

from handlers.http_triggers import bp as http_bp
from handlers.triggers import bp

app = func.FunctionApp()
app.register_functions(bp)
app.register_functions(http_bp)
