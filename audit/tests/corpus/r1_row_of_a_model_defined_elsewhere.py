# expect: R1
# The model comes from an installed package the audit cannot read: the row from session.get()
# is still an ORM instance, and it is handed to the task.
from _support import SessionDep
from billing.models import Invoice
from fastapi import BackgroundTasks


async def send_invoice(invoice: Invoice) -> None:
    print(invoice.number)


async def resend(invoice_id: int, background_tasks: BackgroundTasks, session: SessionDep) -> None:
    invoice = await session.get(Invoice, invoice_id)
    background_tasks.add_task(send_invoice, invoice)
