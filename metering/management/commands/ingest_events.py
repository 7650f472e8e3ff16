"""`manage.py ingest_events FILE.jsonl`: backfill events, one JSON object per line."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from metering.services import BackfillReport, events_backfill

SHOWN_REJECTIONS = 50


class ProgressBar:
    """A one-line progress bar by bytes read, redrawn per chunk on a terminal (a management
    command's OutputWrapper); elsewhere only its final state is written."""

    def __init__(self, total_bytes: int, stream):
        self.total = max(total_bytes, 1)
        self.stream = stream
        self.done = 0
        self.interactive = stream.isatty()

    def draw(self, report: BackfillReport, *, final: bool = False) -> None:
        if not self.interactive and not final:
            return
        share = min(self.done / self.total, 1.0)
        filled = int(share * 30)
        line = (
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}  line {report.lines:,}  "
            f"accepted {report.accepted:,}  duplicates {report.duplicates:,}  "
            f"rejected {len(report.rejected):,}"
        )
        self.stream.write(line, ending="\n" if final else "")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Store events from a JSON Lines file (one event object per line), with the API's "
        "validation. Bad lines are reported by number and never stop the good ones."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to a .jsonl file, or - for standard input.")

    def handle(self, *args, file: str, **options):
        if file == "-":
            source, total = sys.stdin, 0
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"No such file: {file}")
            source, total = path.open(encoding="utf-8", errors="replace"), path.stat().st_size
        bar = ProgressBar(total, self.stderr)

        def lines():
            for line in source:
                bar.done += len(line.encode("utf-8", errors="replace"))
                yield line

        try:
            report = events_backfill(lines=lines(), at=timezone.now(), on_chunk=bar.draw)
        finally:
            if source is not sys.stdin:
                source.close()
        bar.done = bar.total
        bar.draw(report, final=True)

        self.stdout.write(
            f"accepted {report.accepted}, duplicates {report.duplicates}, "
            f"rejected {len(report.rejected)} (of {report.lines} lines)"
        )
        for line_number, reason in report.rejected[:SHOWN_REJECTIONS]:
            self.stdout.write(f"  line {line_number}: {reason}")
        if len(report.rejected) > SHOWN_REJECTIONS:
            self.stdout.write(f"  … and {len(report.rejected) - SHOWN_REJECTIONS} more")
