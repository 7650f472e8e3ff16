"""manage.py render_invoice_pdfs [--force] [--invoice ID]: store the PDFs that are missing."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from invoices.documents import invoice_render_missing_pdfs


class Command(BaseCommand):
    help = (
        "Render and store the PDF of every finalized, paid, void or uncollectible invoice that "
        "has none (or whose PDF predates its payment or void). Prints how many were rendered."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Re-render even the PDFs already stored."
        )
        parser.add_argument("--invoice", type=int, metavar="ID", help="Only this invoice (id).")

    def handle(self, *args, force: bool, invoice: int | None, **options):
        try:
            report = invoice_render_missing_pdfs(at=timezone.now(), force=force, invoice_id=invoice)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        for number in report.rendered:
            self.stdout.write(f"  {number}")
        for number, reason in report.failed:
            self.stderr.write(f"  {number} failed: {reason}")
        self.stdout.write(f"Rendered {len(report.rendered)} invoice PDF(s).")
        if report.failed:
            raise CommandError(f"{len(report.failed)} invoice PDF(s) could not be rendered.")
