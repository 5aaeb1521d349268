"""Typed page decoding: a stream's pages decoded straight into compact element objects that flatten themselves, at
half the cost of decoding into dicts and flattening those (bench: record_path).

How it stays exact:
- The first page is decoded into dicts, like every other answer, and flattened by `RecordShape.flatten`. What it
  holds (element keys, link names, link attributes) becomes the layout of a msgspec Struct; later pages are
  decoded into that layout, with unknown fields forbidden.
- A page with anything the layout does not know (a key a newer release added, a custom field created meanwhile, a
  value that is no link where a link was) fails that typed decode. It is decoded into dicts instead, flattened the
  usual way, and the layout grows to include what it held. Nothing is dropped: the slow path is the fallback for
  everything unexpected.
- An element flattens itself with a function generated for its layout, which does exactly what
  `RecordShape.flatten` does with a dict (tests/unit/test_typed.py compares both on every fixture and on the API
  spec's examples). Absent keys are `UNSET`, so absent and null stay different where that matters (custom fields,
  unmapped properties). Undeclared links whose kind was found not to be data (actions, collections) are kept as
  raw JSON, never decoded, as `RecordShape` skips them.

The generated code never contains a name or value from the server: fields are `f0`, `f1`, ... renamed to the
element's keys by msgspec; column names the shape declares are literals, every other key a constant passed in.
"""

from __future__ import annotations

import threading
import typing as t

import msgspec

from tap_openproject.hal import CUSTOM_FIELD, CUSTOM_KEY, UNDISCLOSED, UNMAPPED, RecordShape, link_id
from tap_openproject.paging.elements import TypedElement, TypedLink
from tap_openproject.timeutil import datetime_value

UNSET = msgspec.UNSET
#: Keys of a collection answer other than its elements that pages are read for.
_ENVELOPE = ("_type", "total", "count", "pageSize", "offset")


class Layout:
    """What the pages read so far held: element keys, link names, link attributes (each in first-seen order)."""

    def __init__(self, shape: RecordShape) -> None:
        self.shape = shape
        #: Links kept raw (never decoded) in later pages: undeclared ones found not to be data (RecordShape's rule),
        #: and `self`, which no column reads.
        self.not_data: set[str] = set()
        self.keys: dict[str, None] = {}
        self.links: dict[str, None] = {}
        self.link_attrs: dict[str, None] = {"href": None, "title": None}

    def learn(self, elements: list[t.Any]) -> bool:
        """Add what these elements hold (those that are objects: a page with others is refused by the key check);
        True if anything was new."""
        before = (len(self.keys), len(self.links), len(self.link_attrs))
        for element in elements:
            if not isinstance(element, dict):
                continue
            self.keys.update(dict.fromkeys(element))
            links = element.get("_links")
            if not isinstance(links, dict):
                continue
            self.links.update(dict.fromkeys(links))
            for name, link in links.items():
                if name not in self.not_data and (name == "self" or self._not_data(name, link)):
                    self.not_data.add(name)
                if name in self.not_data:  # kept raw: its attributes need no field (fewer fields, faster decode)
                    continue
                for item in link if isinstance(link, list) else (link,):
                    if isinstance(item, dict):
                        self.link_attrs.update(dict.fromkeys(item))
        return (len(self.keys), len(self.links), len(self.link_attrs)) != before

    def _not_data(self, name: str, link: t.Any) -> bool:
        """A link no column declares, no custom field column takes, and RecordShape finds not to be data."""
        shape = self.shape
        if name in shape.declared_links or (shape.custom_fields and CUSTOM_FIELD.match(name)):
            return False
        return not shape._data_link(link)[1]  # noqa: SLF001 - the shape's own rule


class TypedPages:
    """The page decoder of one stream's shape: typed when the layout knows the page, dicts otherwise."""

    def __init__(self, shape: RecordShape) -> None:
        self.shape = shape
        self.layout = Layout(shape)
        self._decoder: msgspec.json.Decoder[t.Any] | None = None
        self._lock = threading.Lock()
        #: Pages decoded typed / decoded as dicts (the first, and each with something new).
        self.typed = self.untyped = 0

    @staticmethod
    def handles(shape: RecordShape) -> bool:
        """Whether the generated flatten does all of this shape's flatten (not a subclass's columns)."""
        return type(shape) is RecordShape

    def __call__(self, content: bytes) -> t.Any:
        """The decoded answer: a dict envelope whose elements are typed, or the plain decoded JSON.

        Undecodable JSON raises msgspec.DecodeError (the client retries); a page the layout does not fit is
        decoded again as dicts.
        """
        decoder = self._decoder
        if decoder is not None:
            try:
                page = decoder.decode(content)
            except msgspec.ValidationError:
                pass
            else:
                self.typed += 1
                return page.envelope()
        body = msgspec.json.decode(content)
        self.untyped += 1
        self._learn(body)
        return body

    def _learn(self, body: t.Any) -> None:
        embedded = body.get("_embedded") if isinstance(body, dict) else None
        elements = embedded.get("elements") if isinstance(embedded, dict) else None
        if not isinstance(elements, list) or not elements:
            return
        with self._lock:
            if self.layout.learn(elements) or self._decoder is None:
                self._decoder = msgspec.json.Decoder(build_page_type(self.shape, self.layout))


def build_page_type(shape: RecordShape, layout: Layout) -> type:
    """A Struct for a collection answer whose elements have `layout`, flattening as `shape` does."""
    link_type = _link_type(layout)
    raw_links = set(layout.not_data)
    # Links are decoded as TypedLink, a list of them, or null; anything else fails the typed decode.
    links_type = msgspec.defstruct(
        "Links",
        [
            (f"f{i}", msgspec.Raw if name in raw_links else link_type | list[link_type] | None, UNSET)  # type: ignore[valid-type]
            for i, name in enumerate(layout.links)
        ],
        rename={f"f{i}": name for i, name in enumerate(layout.links)},
        forbid_unknown_fields=True,
    )
    fields: list[tuple[str, t.Any, t.Any]] = []
    attrs: dict[str, str] = {}
    plain = plain_keys(shape)
    for i, key in enumerate(layout.keys):
        attrs[key] = f"f{i}"
        if key == "_links":
            fields.append((f"f{i}", links_type | None, UNSET))  # type: ignore[operator]
        elif key == "_embedded":
            fields.append((f"f{i}", msgspec.Raw, UNSET))  # linked resources repeated: never a column
        else:
            fields.append((f"f{i}", t.Any, None if key in plain else UNSET))
    namespace = {"_attr_of": attrs, "flat": flat_function(shape, layout, link_type, links_type, raw_links)}
    element_type = msgspec.defstruct(
        "Element",
        fields,
        bases=(TypedElement,),
        namespace=namespace,
        rename={v: k for k, v in attrs.items()},
        forbid_unknown_fields=True,
    )
    embedded_type = msgspec.defstruct("Embedded", [("elements", list[element_type])])  # type: ignore[valid-type]
    return msgspec.defstruct(
        "TypedPage",
        [("embedded", embedded_type), *((f"e{i}", t.Any, UNSET) for i in range(len(_ENVELOPE)))],
        rename={"embedded": "_embedded", **{f"e{i}": key for i, key in enumerate(_ENVELOPE)}},
        namespace={"envelope": _envelope},
    )


def plain_keys(shape: RecordShape) -> frozenset[str]:
    """Keys whose column is their value, None when absent (so their fields default to None, not UNSET)."""
    return frozenset({*shape._property_keys, "_type"})  # noqa: SLF001 - the shape's own columns


def _envelope(page: t.Any) -> dict[str, t.Any]:
    """The answer as page_of reads it: the envelope's keys (those present) and the typed elements."""
    values = msgspec.structs.astuple(page)[1:]
    body = {key: value for key, value in zip(_ENVELOPE, values, strict=True) if value is not UNSET}
    body["_embedded"] = {"elements": page.embedded.elements}
    return body


def _link_type(layout: Layout) -> type:
    names = list(layout.link_attrs)
    return msgspec.defstruct(
        "Link",
        [(f"a{i}", t.Any, UNSET) for i in range(len(names))],
        bases=(TypedLink,),
        rename={f"a{i}": name for i, name in enumerate(names)},
        namespace={"_link_keys": tuple(names)},
        forbid_unknown_fields=True,
    )


def _value(expression: str) -> str:
    """Source for `expression`'s value, None where it is UNSET (dict.get's None for an absent key)."""
    return f"(None if (x := {expression}) is UNSET else x)"


def flat_function(
    shape: RecordShape, layout: Layout, link_type: type, links_type: type, raw_links: set[str]
) -> t.Callable[[t.Any], dict[str, t.Any]]:
    """The generated `flat` of one layout: RecordShape.flatten's steps, in its order, on the typed element."""
    source = _FlatSource(shape, layout, raw_links)
    ident, known = _ident()
    namespace: dict[str, t.Any] = {
        "K": tuple(source.consts),
        "UNSET": UNSET,
        "EMPTY": links_type(),
        "LINK": link_type,
        "UNDISCLOSED": UNDISCLOSED,
        "dtv": datetime_value,
        "ID": ident,
        "IDS": known,
        "multi": _multi(link_type, ident),
        "custom_links": _custom_links(ident),
        "link_dict": _link_dict(link_type),
        "unmapped": shape._unmapped,  # noqa: SLF001 - the shape's own rule for what is unmapped
    }
    code = compile("\n".join(source.lines), f"<flat {type(shape).__name__}>", "exec")
    exec(code, namespace)  # noqa: S102  # nosec B102 - source built from our own templates, see the module docstring
    return t.cast("t.Callable[[t.Any], dict[str, t.Any]]", namespace["flat"])


class _FlatSource:
    """The source of one layout's `flat`, step by step as RecordShape.flatten goes (`e`: the element, `L`: its
    links, `r`: the record)."""

    def __init__(self, shape: RecordShape, layout: Layout, raw_links: set[str]) -> None:
        self.shape, self.layout, self.raw_links = shape, layout, raw_links
        self.keys, self.link_names = list(layout.keys), list(layout.links)
        self.consts: list[t.Any] = []
        self.declared = {*shape.json_schema()["properties"], "resource_type"}
        self.lines = ["def flat(e):"]
        links = self.key("_links")
        self.lines += [f"    L = e.{links}" if links else "    L = None", "    if L is UNSET or L is None: L = EMPTY"]
        self.columns()
        if shape.custom_fields:
            self.custom_fields()
        if shape.unmapped:
            self.unmapped()
        self.lines.append("    return r")

    def const(self, value: str) -> str:
        """Source for a column or key name: a literal for the shape's own names, K[n] for the server's."""
        if value in self.declared:
            return repr(value)
        self.consts.append(value)
        return f"K[{len(self.consts) - 1}]"

    def key(self, name: str) -> str | None:
        """The field of an element key, None if the layout has never seen it."""
        return f"f{self.keys.index(name)}" if name in self.layout.keys else None

    def link(self, name: str) -> str:
        return f"L.f{self.link_names.index(name)}" if name in self.layout.links else "UNSET"

    def columns(self) -> None:
        """Every fixed column in flatten's order (properties, resource_type, link columns, multi-link columns), all
        in one dict display (each value computed in place: no store per column); then aliases, and the timestamps
        an alias may have filled."""
        shape, display = self.shape, []
        late_timestamps = [name for name in shape.datetime_properties if name in shape.aliases]
        for name in (*shape._property_keys, "_type"):  # noqa: SLF001 - the shape's own column order
            attr = self.key(name)
            column = "resource_type" if name == "_type" else name
            value = f"e.{attr}" if attr else "None"  # None if absent (see plain_keys)
            if attr and name in shape.datetime_properties and name not in late_timestamps:
                value = f"dtv({value})"
            display.append(f"{self.const(column)}: {value}")
        for n, (name, id_column, title_column, as_string) in enumerate(shape._link_columns):  # noqa: SLF001
            if name not in self.layout.links:
                display += [f"{self.const(id_column)}: None", f"{self.const(title_column)}: None"]
                continue
            # the id: the href's last segment (as a number unless as_string), None without a usable href
            link, ident = f"l{n}", f"i{n}"
            usable = f"type({link} := {self.link(name)}) is LINK and (h := {link}.a0) and h != UNDISCLOSED"
            last = "(j if (j := IDS.get(h, ID)) is not ID else ID(h))"  # link_id, remembered per href
            if as_string:
                last = "h.rstrip('/').rsplit('/', 1)[-1]"
            display += [
                f"{self.const(id_column)}: ({ident} := ({last} if {usable} else None))",
                f"{self.const(title_column)}: ({_value(link + '.a1')} if {ident} is not None else None)",
            ]
        for name, column in shape._multi_columns:  # noqa: SLF001
            value = f"multi({self.link(name)})" if name in self.layout.links else "None"
            display.append(f"{self.const(column)}: {value}")
        self.lines.append("    r = {" + ", ".join(display) + "}")
        for name, others in shape.aliases.items():
            column = self.const(name)
            for attr in filter(None, map(self.key, others)):  # the first other spelling with a value
                self.lines.append(f"    if r[{column}] is None and (x := e.{attr}) is not UNSET: r[{column}] = x")
        for name in late_timestamps:
            self.lines.append(f"    r[{self.const(name)}] = dtv(r[{self.const(name)}])")

    def custom_fields(self) -> None:
        """customFieldN / customCommentN values, then customFieldN links, each in the order of their names."""
        shape = self.shape
        for name in sorted(k for k in self.keys if k not in shape.declared_keys and _is_custom_key(k)):
            self.lines.append(f"    if (x := e.{self.key(name)}) is not UNSET: r[{self.const(name)}] = x")
        for name in sorted(n for n in self.link_names if n not in shape.declared_links and _is_custom_link(n)):
            id_column, title_column = self.const(name + "_id"), self.const(name + "_title")
            self.lines += [
                f"    v = {self.link(name)}",
                "    if type(v) is LINK:",
                f"        r[{id_column}] = i = ID(v.a0)",
                f"        r[{title_column}] = {_value('v.a1')} if i is not None else None",
                f"    elif type(v) is list: custom_links(r, v, {id_column}, {title_column})",
            ]

    def unmapped(self) -> None:
        """What no column declares, as the shape's _unmapped gathers it (only what the element holds)."""
        shape, custom = self.shape, self.shape.custom_fields
        gather = []
        for name in self.keys:
            if name not in shape.declared_keys and not (custom and CUSTOM_KEY.match(name)):
                gather.append(f"    if (x := e.{self.key(name)}) is not UNSET: extra[{self.const(name)}] = x")
        for name in self.link_names:
            if name in shape.declared_links or name in self.raw_links or (custom and CUSTOM_FIELD.match(name)):
                continue
            gather.append(
                f"    if (x := {self.link(name)}) is not UNSET: extra_links[{self.const(name)}] = link_dict(x)"
            )
        if not gather:  # the layout holds nothing undeclared
            self.lines.append(f"    r[{self.const(UNMAPPED)}] = None")
            return
        self.lines += ["    extra = {}", "    extra_links = {}", *gather]
        self.lines.append(
            f"    r[{self.const(UNMAPPED)}] = unmapped(extra, extra_links) if extra or extra_links else None"
        )


def _is_custom_key(key: str) -> bool:
    return key.startswith("custom") and CUSTOM_KEY.match(key) is not None


def _is_custom_link(name: str) -> bool:
    return name.startswith("customField") and CUSTOM_FIELD.match(name) is not None


#: Distinct hrefs whose ids one decoder remembers (users, statuses, projects repeat in every page).
ID_CACHE = 20_000


def _ident() -> tuple[t.Callable[[t.Any], t.Any], dict[t.Any, t.Any]]:
    """link_id of an href (UNSET: none), remembered for the hrefs that repeat; and what it remembers (generated
    code looks there first: `known.get(href, ident)` is ident itself when the href is new)."""
    known: dict[t.Any, t.Any] = {}

    def ident(href: t.Any) -> t.Any:
        found = known.get(href, ident)
        if found is ident:
            found = link_id(None if href is UNSET else href)
            if len(known) < ID_CACHE:
                known[href] = found
        return found

    return ident, known


def _multi(link_type: type, ident: t.Callable[[t.Any], int | None]) -> t.Callable[[t.Any], list[int] | None]:
    def multi(items: t.Any) -> list[int] | None:
        if type(items) is link_type:
            items = [items]
        elif type(items) is not list:
            return None
        return [i for item in items if isinstance(i := ident(item.a0), int)]

    return multi


def _custom_links(
    ident: t.Callable[[t.Any], int | None],
) -> t.Callable[[dict[str, t.Any], list[t.Any], str, str], None]:
    def custom_links(record: dict[str, t.Any], value: list[t.Any], id_column: str, title_column: str) -> None:
        record[id_column] = [ident(v.a0) for v in value]
        record[title_column] = [None if v.a1 is UNSET else v.a1 for v in value]

    return custom_links


def _link_dict(link_type: type) -> t.Callable[[t.Any], t.Any]:
    def link_dict(value: t.Any) -> t.Any:
        if type(value) is link_type:
            return t.cast("TypedLink", value).as_dict()
        if type(value) is list:
            return [v.as_dict() for v in value]
        return value

    return link_dict
