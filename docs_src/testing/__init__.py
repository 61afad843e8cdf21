"""The testing page's examples: what each way of calling an app shows of a failing background task."""
