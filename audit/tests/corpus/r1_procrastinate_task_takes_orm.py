# expect: R1
# A task-engine task whose signature takes an ORM instance: it cannot cross the queue intact.
from _support import Job
from procrastinate import App, PsycopgConnector

app = App(connector=PsycopgConnector())


@app.task(queue="mail")
async def send_report(job: Job) -> None:
    print("report for", job.id)
