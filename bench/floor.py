"""The sequential floor: a plain `requests` client, one request after another, each record a JSON line.

    python -m bench.floor work_packages --base-url URL --api-key KEY --out FILE
    python -m bench.floor activities --base-url URL --api-key KEY --out FILE

``work_packages`` reads every page of /api/v3/work_packages (filters=[] so closed ones come too) at the
maximum page size, stopping on the last page. ``activities`` first reads the work packages the same way (the
tap needs them too, to know the ids), then /api/v3/work_packages/{id}/activities for each id in turn. Nothing
is done per record beyond parsing the page and writing the record: this is what one connection can do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import requests

PAGE_SIZE = 1000


def pages(session: requests.Session, url: str) -> Iterator[list[dict[str, Any]]]:
    """Every page of a paginated collection, by page-number offset, without an extra empty request."""
    offset = 1
    while True:
        params: dict[str, str | int] = {"filters": "[]", "pageSize": PAGE_SIZE, "offset": offset}
        response = session.get(url, params=params, timeout=60)
        response.raise_for_status()
        body = json.loads(response.content)
        yield body["_embedded"]["elements"]
        if offset * (body.get("pageSize") or PAGE_SIZE) >= body["total"]:
            return
        offset += 1


def write(out: TextIO, elements: list[dict[str, Any]]) -> int:
    """Write each element as one JSON line; the number written."""
    for element in elements:
        out.write(json.dumps(element))
        out.write("\n")
    return len(elements)


def main(argv: list[str] | None = None) -> int:
    """Fetch, write, print the record count."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("work_packages", "activities"))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    api = args.base_url.rstrip("/") + "/api/v3"
    session = requests.Session()
    session.auth = ("apikey", args.api_key)
    records = 0
    with open(args.out, "w", encoding="utf-8") as out:
        ids: list[int] = []
        for elements in pages(session, f"{api}/work_packages"):
            records += write(out, elements)
            ids.extend(element["id"] for element in elements)
        if args.what == "activities":
            for wp_id in ids:
                response = session.get(f"{api}/work_packages/{wp_id}/activities", timeout=60)
                response.raise_for_status()
                records += write(out, json.loads(response.content)["_embedded"]["elements"])
    print(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
