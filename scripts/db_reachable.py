"""Exit 0 when the PostgreSQL server behind a DATABASE_URL answers, 1 otherwise (used by make)."""

import sys

import psycopg


def main(url: str) -> int:
    # Connect to the maintenance database: the test run creates its own test_* database.
    server_url = url.rsplit("/", 1)[0] + "/postgres"
    try:
        psycopg.connect(server_url, connect_timeout=3).close()
    except psycopg.Error as error:
        print(f"PostgreSQL not reachable at {server_url}: {error}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
