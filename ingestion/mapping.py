"""Which file column feeds which field: header synonyms, the automatic mapping and overrides.

Headers are compared after normalisation (lower case, accents and everything but letters and
digits removed), so ``"First Name"``, ``first_name`` and ``FIRST-NAME`` are the same header. The
synonyms cover the column names of Salesforce and HubSpot exports and of common lead lists.

A mapping is ``{source header: field}``. Several columns may feed one field: for ``location``
their values are joined with ", " (City, State, Country), for any other field the first
non-empty one wins. ``custom.<key>`` stores the column in the record's custom fields; ``null``
(or ``""``) ignores the column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- objects


def normalise(header: str) -> str:
    """``"État / Région"`` → ``"etatregion"``: lower case, no accents, letters and digits only."""
    text = unicodedata.normalize("NFKD", str(header))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "", text.lower())


@dataclass(frozen=True)
class Target:
    name: str
    synonyms: tuple[str, ...]
    numeric: bool = False  # auto-mapped only when the sample values look like numbers
    description: str = ""


@dataclass(frozen=True)
class ObjectSpec:
    name: str  # "leads"
    object_type: str  # "lead" (events)
    targets: tuple[Target, ...]
    joined: frozenset[str] = field(default_factory=frozenset)  # fields whose sources concatenate

    @property
    def fields(self) -> list[str]:
        return [t.name for t in self.targets]

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)


def _t(name: str, synonyms: str, *, numeric: bool = False, description: str = "") -> Target:
    """``synonyms``: header spellings separated by ``|`` (compared normalised)."""
    names = (name, *(x for x in synonyms.split("|") if x.strip()))
    return Target(name, tuple(dict.fromkeys(normalise(x) for x in names)), numeric, description)


LEADS = ObjectSpec(
    "leads",
    "lead",
    (
        _t("first_name", "First Name|first|given name|fname|forename|prénom|vorname|nombre"),
        _t(
            "last_name",
            "Last Name|last|surname|family name|lname|nom|nachname|apellido|apellidos",
        ),
        _t(
            "full_name",
            "Name|Full Name|Contact Name|Lead Name|Contact|Person Name",
            description="split into first_name and last_name",
        ),
        _t(
            "email",
            "Email|E-mail|Email Address|Mail|Email 1|Primary Email|Work Email|Business Email"
            "|courriel",
        ),
        _t(
            "phone",
            "Phone|Phone Number|Telephone|Tel|Telephone Number|Mobile|Mobile Phone"
            "|Mobile Phone Number|Mobile Number|Cell|Cell Phone|Work Phone|Business Phone"
            "|Phone 1|Primary Phone|Direct Phone|Téléphone|Telefon|Teléfono|Telefono|Handy"
            "|Portable",
        ),
        _t(
            "title",
            "Title|Job Title|Position|Role|Job Role|Designation|Job Position|Poste|Fonction"
            "|Cargo|Titel",
        ),
        _t(
            "company_name",
            "Company|Company Name|Organization|Organisation|Organization Name|Account"
            "|Account Name|Business|Business Name|Employer|Firm|Société|Entreprise|Firma"
            "|Unternehmen|Empresa|Azienda",
        ),
        _t(
            "source",
            "Lead Source|Source|Original Source|Original Source Type|Channel|Source Channel"
            "|Origin|Lead Origin|Quelle",
        ),
        _t("status", "Lead Status|Status|Stage|Lead Stage|Statut|Estado|Stato"),
        _t(
            "rating",
            "Rating|Stars|Star Rating|Avg Rating|Average Rating|Google Rating|Review Rating"
            "|Note|Bewertung|Valoración",
            numeric=True,
        ),
        _t(
            "reviews_count",
            "Reviews|Reviews Count|Review Count|Number of Reviews|Num Reviews|Total Reviews"
            "|Google Reviews|Ratings Count",
            numeric=True,
        ),
        _t(
            "website",
            "Website|Website URL|URL|Web|Site|Homepage|Web Address|Company Website"
            "|Company Domain|Company Domain Name|Domain|Website Domain|Site Web|Webseite",
        ),
        _t(
            "website_score",
            "Website Score|Site Score|Web Score|Website Quality|Website Grade",
            numeric=True,
        ),
        _t(
            "industry",
            "Industry|Sector|Vertical|Category|Business Category|Branche|Secteur|Industrie",
        ),
        _t(
            "location",
            "Location|Address|Street Address|Street|City|Town|State|State/Region|Region"
            "|Province|County|Country|Country/Region|Ville|Pays|Stadt|Ort|Land|Ciudad|País"
            "|Città|Paese|Adresse|Dirección",
            description="several columns are joined with ', '",
        ),
        _t(
            "owner",
            "Lead Owner|Owner|Contact Owner|Owner Name|Owner Email|Assigned To|Sales Rep|Rep"
            "|Account Owner|HubSpot Owner|Record Owner",
            description="a team member's email, name or id",
        ),
    ),
    joined=frozenset({"location"}),
)

CALL_LOGS = ObjectSpec(
    "call_logs",
    "call_log",
    (
        _t(
            "lead",
            "Lead|Lead Email|Lead ID|Email|Lead Email Address",
            description="the lead's email or id",
        ),
        _t("contact", "Contact|Contact Email|Contact ID", description="email or id"),
        _t(
            "member",
            "Member|Member Email|Rep|Rep Email|Agent|Agent Email|User|User Email|Owner"
            "|Owner Email|Called By|Sales Rep",
            description="a team member's email, name or id",
        ),
        _t("direction", "Direction|Call Direction|Type|Call Type|In/Out"),
        _t("phone_number", "Phone|Phone Number|Number|Dialed Number|Callee"),
        _t(
            "started_at",
            "Started At|Start|Start Time|Started|Date|Date Time|Call Date|Call Time|Timestamp"
            "|Time|When",
        ),
        _t(
            "duration",
            "Duration|Duration Seconds|Duration (s)|Seconds|Length|Call Length|Talk Time"
            "|Call Duration|Duration Sec",
        ),
        _t("outcome", "Outcome|Result|Disposition|Call Result|Call Outcome"),
        _t("notes", "Notes|Note|Comments|Comment|Description|Summary"),
        _t("transcript", "Transcript|Transcription"),
        _t("recording_url", "Recording|Recording URL|Recording Link|Audio|Audio URL"),
    ),
)

DEALS = ObjectSpec(
    "deals",
    "deal",
    (
        _t(
            "name",
            "Deal Name|Opportunity Name|Opportunity|Deal|Name|Title|Deal Title",
        ),
        _t(
            "value",
            "Amount|Deal Amount|Value|Deal Value|Opportunity Amount|Amount (USD)|Total Amount"
            "|Expected Revenue|Revenue",
        ),
        _t("currency", "Currency|Deal Currency|Amount Currency|Opportunity Currency|Currency Code"),
        _t(
            "value_type",
            "Value Type|Revenue Type|Billing Type|Amount Type",
            description="one_off, mrr or arr",
        ),
        _t(
            "probability",
            "Probability (%)|Probability|Deal Probability|Win Probability|Probability %",
        ),
        _t("pipeline", "Pipeline|Deal Pipeline|Pipeline Name", description="name or id"),
        _t(
            "stage",
            "Stage|Deal Stage|Opportunity Stage|Stage Name|Sales Stage|Status",
            description="a stage key or name of the pipeline (case-insensitive)",
        ),
        _t(
            "expected_close_date",
            "Close Date|Expected Close Date|Closing Date|Est. Close Date|Estimated Close Date",
        ),
        _t("actual_close_date", "Actual Close Date|Closed Date|Date Closed|Closed At"),
        _t(
            "owner",
            "Deal Owner|Opportunity Owner|Owner|Owner Email|Owner Name|Sales Rep|Rep"
            "|Assigned To|HubSpot Owner|Record Owner",
            description="a team member's email, name or id",
        ),
        _t("win_reason", "Win Reason|Closed Won Reason|Reason Won|Won Reason"),
        _t(
            "loss_reason",
            "Loss Reason|Lost Reason|Closed Lost Reason|Reason Lost|Loss Reason Details",
        ),
        _t("competitor", "Competitor|Competitors|Main Competitor|Primary Competitor"),
        _t("next_step", "Next Step|Next Steps|Next Action"),
        _t("source", "Lead Source|Source|Deal Source|Original Source"),
    ),
)

OBJECTS: dict[str, ObjectSpec] = {
    LEADS.name: LEADS,
    CALL_LOGS.name: CALL_LOGS,
    DEALS.name: DEALS,
}
ALIASES = {
    "lead": "leads",
    "call_log": "call_logs",
    "call-logs": "call_logs",
    "calls": "call_logs",
    "deal": "deals",
    "opportunities": "deals",
}

# Values read as "no value" in any column (compared case-insensitively, after trimming).
NULL_TOKENS = ("", "n/a", "na", "#n/a", "null", "none", "nil", "-", "--")


class MappingError(ValueError):
    """A mapping that cannot be used; ``errors`` name each bad entry."""

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


def spec_for(obj: str) -> ObjectSpec | None:
    key = (obj or "").strip().lower()
    return OBJECTS.get(ALIASES.get(key, key))


_NUMBER = re.compile(r"^[+-]?(\d{1,3}([ ,.']\d{3})+|\d+)([.,]\d+)?$")


def looks_numeric(values: Iterable[str | None]) -> bool:
    """At least half of the non-empty sample values are numbers (``4.5``, ``4,5``, ``1,234``)."""
    seen = ok = 0
    for v in values:
        if v is None or v.strip().lower() in NULL_TOKENS:
            continue
        seen += 1
        ok += bool(_NUMBER.match(v.strip()))
    return seen == 0 or ok * 2 >= seen


def suggest(
    spec: ObjectSpec, columns: Sequence[str], samples: Mapping[str, Sequence[str | None]] | None
) -> dict[str, str | None]:
    """The automatic mapping: every column whose header is a synonym of a field (the column
    order decides between two columns for one field); the others map to None (ignored)."""
    by_synonym: dict[str, Target] = {}
    for t in spec.targets:
        for s in t.synonyms:
            by_synonym.setdefault(s, t)
    out: dict[str, str | None] = {}
    for col in columns:
        t = by_synonym.get(normalise(col))
        if (
            t is not None
            and t.numeric
            and samples is not None
            and not looks_numeric(samples.get(col, ()))
        ):
            t = None  # e.g. Salesforce's Rating column holds Hot/Warm/Cold
        out[col] = t.name if t is not None else None
    return out


def resolve(
    spec: ObjectSpec,
    columns: Sequence[str],
    override: Mapping[str, str | None] | None,
    samples: Mapping[str, Sequence[str | None]] | None = None,
) -> dict[str, str | None]:
    """The mapping an import uses: the automatic one with ``override`` on top.

    An explicit entry replaces the automatic one for its column; an explicit field (other than
    ``location``) also takes that field from every column the automatic mapping gave it to.
    """
    auto = suggest(spec, columns, samples)
    if not override:
        return auto
    errors: list[dict[str, str]] = []
    by_norm = {normalise(c): c for c in reversed(columns)}
    explicit: dict[str, str | None] = {}
    for raw_col, raw_field in override.items():
        col = raw_col if raw_col in columns else by_norm.get(normalise(str(raw_col)))
        if col is None:
            errors.append(
                {
                    "field": f"mapping.{raw_col}",
                    "message": "No column with this header in the file.",
                }
            )
            continue
        target = (raw_field or "").strip() if isinstance(raw_field, str) else raw_field
        if target in (None, ""):
            explicit[col] = None
            continue
        if not isinstance(target, str) or not valid_target(spec, target):
            errors.append(
                {
                    "field": f"mapping.{raw_col}",
                    "message": f"Unknown field {target!r}: use one of "
                    f"{', '.join(spec.fields)}, custom.<key> or null.",
                }
            )
            continue
        explicit[col] = target
    if errors:
        raise MappingError("The mapping names unknown columns or fields.", errors)
    taken = {f for f in explicit.values() if f and f not in spec.joined}
    out = {c: (None if f in taken else f) for c, f in auto.items()}
    out.update(explicit)
    return out


_CUSTOM_KEY = re.compile(r"^custom\.[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}$")


def valid_target(spec: ObjectSpec, target: str) -> bool:
    return target in spec.fields or bool(_CUSTOM_KEY.match(target))


def sources(mapping: Mapping[str, str | None], columns: Sequence[str]) -> dict[str, list[str]]:
    """field → its source columns in file order."""
    out: dict[str, list[str]] = {}
    for col in columns:
        f = mapping.get(col)
        if f:
            out.setdefault(f, []).append(col)
    return out


def unmapped(mapping: Mapping[str, str | None], columns: Sequence[str]) -> list[str]:
    return [c for c in columns if not mapping.get(c)]
