"""Pages of the sample checks: population, plan, draw, items, hygiene, evaluation.

Over 600 lines: the sample check is one workflow (population, plan, draw, items, hygiene,
evaluation) on one blueprint. The rules behind the pages are split by step (``planning``,
``drawing``, ``item_results``, ``observations``, ``evaluation``); the views stay together
because they share the control's loading, permission checks and titles.

Each view: load or 404 → permission check → form → service → commit → redirect. Controllers
assigned to the control (and the coordinator) work; whoever may view the control reads.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response as WResponse

from riskreg import permissions
from riskreg.auth.models import Unit
from riskreg.controls.models import (
    ACTION_STATUS_TITLES,
    CHECK_TYPE_TITLES,
    CONTROL_STATUS_TITLES,
    CheckType,
    Control,
    ControlStatus,
)
from riskreg.db import local_date, now_utc
from riskreg.errors import AlreadyDone, ServiceError, StaleObject
from riskreg.exports import xlsx_response
from riskreg.extensions import db
from riskreg.formtools import choices, flash_errors, new_form_token
from riskreg.money import format_kronor
from riskreg.paging import Sort, contains_text, keyset_page, text_arg
from riskreg.permissions import require, requires
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk
from riskreg.sampling import (
    audit_labels,  # noqa: F401  (registers the trail labels)
    drawing,
    evaluation,
    importing,
    item_results,
    lookups,
    observations,
    overview,
    page_summaries,
    planning,
    rederive,
)
from riskreg.sampling import evidence as evidence_store
from riskreg.sampling import (
    worksheet as worksheet_service,
)
from riskreg.sampling._exact import format_sek
from riskreg.sampling.checktypes import (
    SAMPLING_METHOD_TITLES,
    SELECTION_METHOD_TITLES,
    STRATUM_TITLES,
    attributes_for,
    spec_for,
)
from riskreg.sampling.forms import (
    MUS_FIELDS,
    ActionForm,
    ConclusionForm,
    DrawForm,
    EvidenceForm,
    ExtendForm,
    HygieneForm,
    HygieneImportForm,
    PlanForm,
    PopulationImportForm,
    WorksheetForm,
    WorksheetUploadForm,
    item_form_class,
)
from riskreg.sampling.item_context import ItemContext, item_context
from riskreg.sampling.models import (
    ITEM_RESULT_TITLES,
    Evidence,
    HygieneObservation,
    ItemResult,
    SampleItem,
    SamplePlan,
    SamplingMethod,
    SelectionMethod,
)
from riskreg.sampling.selection import generate_seed
from riskreg.tabular import TableError, open_table
from riskreg.uploads import CheckedUpload, check_upload
from riskreg.web import parse_id, parse_version, send_evidence

bp = Blueprint("sampling", __name__, url_prefix="/sampling")


# --- helpers ------------------------------------------------------------------------------------


def _control(control_id: int) -> Control:
    control = db.get_or_404(Control, control_id)
    require(permissions.can_view_control(current_user, control), hide=True)
    return control


def _require_work(control: Control) -> None:
    require(permissions.can_work_on_control(current_user, control))


def _read_only(control: Control) -> WResponse | None:
    """A control that is not in progress gets its read-only page, not a form that would only
    refuse after submit: not started (deviation definition not locked), submitted or approved."""
    if permissions.can_test_control(current_user, control):
        return None
    if control.status == ControlStatus.PLANNED:
        flash(
            _(
                "Granskningen är inte påbörjad. Påbörja den först: då låses vad som räknas som "
                "avvikelse, och först därefter kan population, urval och resultat registreras."
            ),
            "warning",
        )
    else:
        flash(
            _(
                "Granskningen är lämnad för godkännande eller godkänd; stickprovet kan bara "
                "läsas. Den måste öppnas igen för att ändras."
            ),
            "warning",
        )
    return redirect(url_for("sampling.control", control_id=control.id))


def _item(item_id: int) -> SampleItem:
    item = db.get_or_404(SampleItem, item_id)
    require(permissions.can_view_control(current_user, item.draw.control), hide=True)
    return item


def _based_on(form: Any) -> int | None:
    """What the form was shown as current (see require_unchanged); None when the field is
    absent, -1 when it is unreadable (which never matches: a conflict, not a crash)."""
    raw = form.based_on.data
    if raw is None or raw == "":
        return None
    parsed = parse_id(raw)
    return -1 if parsed is None else parsed


def format_sek_input(ore: int) -> str:
    """An öre amount as a form accepts it back: ``1234567,89``."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    return f"{sign}{kronor},{rest:02d}"


def _failed(exc: ServiceError) -> list[str]:
    db.session.rollback()
    flash(exc.message, "danger")
    return exc.messages if exc.messages != [exc.message] else []


def _checked_table(file: Any) -> CheckedUpload:
    """A population or observation file: CSV or XLSX by content, within the import limit."""
    return check_upload(
        file,
        allowed={"csv", "xlsx"},
        max_bytes=int(current_app.config["POPULATION_IMPORT_MAX_BYTES"]),
    )


@bp.app_template_filter("sek")
def sek_filter(ore: int | Fraction | None) -> str:
    return "" if ore is None else format_sek(ore)


@bp.app_template_filter("sek_float")
def sek_float_filter(value: float | None) -> str:
    """A float amount in öre (Stringer terms), shown rounded up to whole öre."""
    return "" if value is None else format_sek(Fraction(value))


@bp.app_template_filter("percent")
def percent_filter(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format((value * 100).normalize(), "f")
    return f"{text.replace('.', ',')} %"


@bp.app_template_global("sampling_summary")
def sampling_summary(control: Control) -> overview.Summary:
    """For templates/sampling/_control_panel.html, which the control page includes."""
    return overview.summary(db.session(), control)


@bp.app_template_global("sample_item_context")
def sample_item_context(item: SampleItem) -> ItemContext:
    """For templates/sampling/_item_context.html: a sampled item in its population."""
    return item_context(item)


@bp.app_context_processor
def _sampling_titles() -> dict[str, Any]:
    return _titles()


def _titles() -> dict[str, Any]:
    return {
        "result_titles": {k.value: _(v) for k, v in ITEM_RESULT_TITLES.items()},
        "sampling_titles": {k.value: _(v) for k, v in SAMPLING_METHOD_TITLES.items()},
        "selection_titles": {k.value: _(v) for k, v in SELECTION_METHOD_TITLES.items()},
        "stratum_titles": {k: _(v) for k, v in STRATUM_TITLES.items()},
        "check_type_titles": {k.value: _(v) for k, v in CHECK_TYPE_TITLES.items()},
        "control_status_titles": {k.value: _(v) for k, v in CONTROL_STATUS_TITLES.items()},
        "action_status_titles": {k.value: _(v) for k, v in ACTION_STATUS_TITLES.items()},
    }


# --- overview -----------------------------------------------------------------------------------


SAMPLING_SORTS = {
    "deadline": Sort("deadline", (Control.deadline, Control.id)),
    "title": Sort("title", (Control.title, Control.id)),
    "unit": Sort("unit", (Unit.code, Control.deadline, Control.id)),
}


@bp.route("/")
@requires(permissions.is_authenticated)
def index() -> str:
    plan_id = parse_id(request.args.get("plan"))
    unit_id = parse_id(request.args.get("unit"))
    check_type = request.args.get("type") or None
    if check_type not in {c.value for c in CheckType}:
        check_type = None
    text = text_arg(request.args)
    query = (
        select(Control)
        .join(Control.risk)
        .join(Unit, Unit.id == Control.responsible_unit_id)
        .where(permissions.scope_controls(current_user))
        .options(selectinload(Control.responsible_unit))
    )
    if plan_id:
        query = query.where(Risk.plan_id == plan_id)
    if unit_id:
        query = query.where(Control.responsible_unit_id == unit_id)
    if check_type:
        query = query.where(Control.check_type == check_type)
    if text:
        query = query.where(contains_text(Control.title, text))
    page = keyset_page(
        db.session(),
        query,
        SAMPLING_SORTS,
        request.args,
        default_sort="deadline",
        list_args={
            "plan": str(plan_id or ""),
            "unit": str(unit_id or ""),
            "type": check_type or "",
            "q": text or "",
        },
    )
    return render_template(
        "sampling/index.html",
        page=page,
        summaries=page_summaries.summaries(db.session(), page.items),
        flt={"plan": plan_id, "unit": unit_id, "type": check_type, "q": text},
        plans=db.session.scalars(
            select(Plan).options(selectinload(Plan.organisation)).order_by(Plan.year.desc())
        ).all(),
        units=db.session.scalars(select(Unit).order_by(Unit.code)).all(),
        **_titles(),
    )


@bp.route("/controls/<int:control_id>")
@requires(permissions.is_authenticated)
def control(control_id: int) -> str:
    control = _control(control_id)
    return render_template(
        "sampling/control.html",
        control=control,
        spec=spec_for(control),
        attributes=attributes_for(control),
        audit_related=overview.trail_objects(db.session(), control),
    )


# --- population ---------------------------------------------------------------------------------


@bp.route("/controls/<int:control_id>/population", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def population(control_id: int) -> str | WResponse:
    control = _control(control_id)
    _require_work(control)
    if (locked := _read_only(control)) is not None:
        return locked
    spec = spec_for(control)
    if not spec.has_population:
        return redirect(url_for("sampling.hygiene_import", control_id=control.id))
    form = PopulationImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with _checked_table(form.file.data) as upload:
                imported = importing.import_population(
                    db.session(),
                    control,
                    upload.stream,
                    upload.filename,
                    actor=current_user,
                    now=now_utc(),
                    source=form.source.data or "",
                    period_start=form.period_start.data,
                    period_end=form.period_end.data,
                    key_column=form.key_column.data or "",
                    amount_column=form.amount_column.data or "",
                    expected_population_id=_based_on(form),
                )
        except ServiceError as exc:
            errors = _failed(exc)
        else:
            db.session.commit()
            flash(
                _("Populationen är importerad: %(n)s poster.", n=imported.row_count), "success"
            )
            return redirect(url_for("sampling.control", control_id=control.id))
    current = importing.current_population(db.session(), control)
    # The form carries what this page shows as current (see _based_on).
    form.based_on.data = str(current.id if current else 0)
    return render_template(
        "sampling/population.html",
        control=control,
        spec=spec,
        form=form,
        errors=errors,
        current=current,
        drawn=importing.has_current_draw(db.session(), control),
    )


# --- plan ---------------------------------------------------------------------------------------


@bp.route("/controls/<int:control_id>/plan", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def plan(control_id: int) -> str | WResponse:
    control = _control(control_id)
    _require_work(control)
    if (locked := _read_only(control)) is not None:
        return locked
    spec = spec_for(control)
    form = PlanForm()
    form.method.choices = choices(
        (m.value, _(SAMPLING_METHOD_TITLES[m])) for m in spec.sampling_methods
    )
    mus = SamplingMethod.MUS in spec.sampling_methods
    if not mus:
        # Fields the page does not show are not read either: an error on one would be invisible.
        for name in MUS_FIELDS:
            delattr(form, name)
    population = importing.current_population(db.session(), control)
    book_value = importing.positive_total(db.session(), population) if population else None
    if population is not None:
        # Planning uses the imported population: its size (and book value) are shown, not typed.
        form.population_size.render_kw = {"readonly": True}
        form.population_size.description = _(
            "Hämtad från den importerade populationen: %(n)s poster.", n=population.row_count
        )
        if request.method == "GET":
            form.population_size.data = population.row_count
        if mus:
            form.book_value.render_kw = {"readonly": True}
            form.book_value.description = _(
                "Hämtat från den importerade populationen (summan av positiva belopp)."
            )
            if request.method == "GET" and book_value is not None:
                form.book_value.data = format_sek_input(book_value)
    current_plan = lookups.current_plan(db.session(), control)
    if request.method == "GET" and current_plan is not None:
        _fill_plan_form(form, current_plan, mus=mus, imported=population is not None)
    if form.validate_on_submit():
        try:
            made = planning.plan_sample(
                db.session(),
                control,
                method=form.method.data,
                actor=current_user,
                now=now_utc(),
                confidence=Decimal(form.confidence.data),
                tolerable_rate=form.tolerable_rate.fraction,
                expected_rate=form.expected_rate.fraction,
                population_size=form.population_size.data,
                book_value_ore=form.book_value.ore if mus else None,
                tolerable_misstatement_ore=form.tolerable_misstatement.ore if mus else None,
                expected_misstatement_ore=form.expected_misstatement.ore if mus else None,
                sample_size=form.sample_size.data,
                justification=form.justification.data or "",
                expected_plan_id=_based_on(form),
            )
        except ServiceError as exc:
            _failed(exc)
        else:
            db.session.commit()
            flash(_("Urvalsplanen är sparad: %(n)s poster.", n=made.sample_size), "success")
            return redirect(url_for("sampling.plan", control_id=control.id))
    # The form carries what this page shows as current (see _based_on).
    form.based_on.data = str(current_plan.id if current_plan else 0)
    return render_template(
        "sampling/plan.html",
        control=control,
        form=form,
        current=current_plan,
        population=population,
        book_value=book_value,
        mus=mus,
        drawn=lookups.current_draw(db.session(), control) is not None,
        **_titles(),
    )


def _percent_input(fraction: Decimal | None) -> str:
    """0.025 -> "2,5" (as a Swedish user types it into a percent field)."""
    if fraction is None:
        return ""
    text = format((fraction * 100).normalize(), "f")
    return text.replace(".", ",")


def _fill_plan_form(form: PlanForm, saved: SamplePlan, *, mus: bool, imported: bool) -> None:
    """The planning form shows the saved plan: its method and parameters, not the defaults, so
    saving again without a change keeps the plan as it was."""
    form.method.data = saved.method
    if saved.confidence is not None:
        form.confidence.data = f"{saved.confidence:.2f}"
    form.tolerable_rate.data = _percent_input(saved.tolerable_rate)
    form.expected_rate.data = _percent_input(saved.expected_rate) or "0"
    if not imported:
        form.population_size.data = saved.population_size
    if saved.method == SamplingMethod.NON_STATISTICAL:
        form.sample_size.data = saved.sample_size
    form.justification.data = saved.justification
    if mus:
        if saved.tolerable_misstatement_ore is not None:
            form.tolerable_misstatement.data = format_sek_input(saved.tolerable_misstatement_ore)
        if saved.expected_misstatement_ore is not None:
            form.expected_misstatement.data = format_sek_input(saved.expected_misstatement_ore)


# --- draw ---------------------------------------------------------------------------------------


@bp.route("/controls/<int:control_id>/draw", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def draw(control_id: int) -> str | WResponse:
    control = _control(control_id)
    _require_work(control)
    if (locked := _read_only(control)) is not None:
        return locked
    spec = spec_for(control)
    form = DrawForm()
    plan = lookups.current_plan(db.session(), control)
    allowed = [
        m
        for m in spec.selection_methods
        if plan is None or (plan.method == SamplingMethod.MUS) == (m in lookups.MUS_METHODS)
    ]
    form.selection_method.choices = choices(
        (m.value, _(SELECTION_METHOD_TITLES[m])) for m in allowed
    )
    population = importing.current_population(db.session(), control)
    strata = (
        {k: v for k, v in lookups.stratum_counts(db.session(), population).items() if k}
        if population
        else {}
    )
    if form.validate_on_submit():
        sizes: dict[str, int] = {}
        for index, name in enumerate(sorted(strata)):
            raw = (request.form.get(f"stratum-{index}") or "0").strip()
            parsed = parse_id(raw)
            sizes[name] = -1 if parsed is None else parsed
        try:
            made = drawing.draw_sample(
                db.session(),
                control,
                selection_method=form.selection_method.data,
                seed=generate_seed(),
                actor=current_user,
                now=now_utc(),
                reason=form.reason.data or "",
                strata_sizes=sizes,
                expected_draw_id=_based_on(form),
            )
        except ServiceError as exc:
            _failed(exc)
        else:
            db.session.commit()
            flash(_("Urvalet är draget: %(n)s poster.", n=made.sample_size), "success")
            return redirect(url_for("sampling.items", control_id=control.id))
    current = lookups.current_draw(db.session(), control)
    # The form carries what this page shows as current (see _based_on).
    form.based_on.data = str(current.id if current else 0)
    extend_form = ExtendForm(formdata=None)
    extend_form.based_on.data = str(current.sample_size if current else 0)
    return render_template(
        "sampling/draw.html",
        control=control,
        form=form,
        plan=plan,
        population=population,
        current=current,
        strata=sorted(strata.items()),
        extend_form=extend_form,
        **_titles(),
    )


@bp.route("/controls/<int:control_id>/extend", methods=["POST"])
@requires(permissions.is_authenticated)
def extend(control_id: int) -> WResponse:
    control = _control(control_id)
    _require_work(control)
    form = ExtendForm()
    current = lookups.current_draw(db.session(), control)
    if not form.validate_on_submit():
        flash_errors(form)
    elif current is None:
        flash(_("Inget urval är draget."), "danger")
    else:
        try:
            drawing.extend_sample(
                db.session(),
                current,
                additional=form.additional.data or 0,
                reason=form.reason.data or "",
                actor=current_user,
                now=now_utc(),
                expected_size=_based_on(form),
            )
        except ServiceError as exc:
            _failed(exc)
        else:
            db.session.commit()
            flash(_("Urvalet är utökat till %(n)s poster.", n=current.sample_size), "success")
            return redirect(url_for("sampling.items", control_id=control.id))
    return redirect(url_for("sampling.draw", control_id=control.id))


# --- items --------------------------------------------------------------------------------------


@bp.route("/controls/<int:control_id>/items")
@requires(permissions.is_authenticated)
def items(control_id: int) -> str:
    control = _control(control_id)
    current = lookups.current_draw(db.session(), control)
    return render_template(
        "sampling/items.html",
        control=control,
        draw=current,
        summary=overview.summary(db.session(), control),
        mus=current is not None and lookups.is_mus_draw(current),
        **_titles(),
    )


@bp.route("/controls/<int:control_id>/rederive.zip")
@requires(permissions.is_authenticated)
def rederivation(control_id: int) -> WResponse:
    """The zip with which anyone can re-derive the current sample without riskreg."""
    control = db.get_or_404(Control, control_id)
    require(permissions.can_download_rederivation(current_user, control), hide=True)
    current = lookups.current_draw(db.session(), control)
    if current is None or current.status != "drawn":
        abort(404)
    package = rederive.build_package(db.session(), current, now=now_utc())
    return send_file(
        package.file,
        mimetype="application/zip",
        as_attachment=True,
        download_name=package.download_name,
        max_age=0,
    )


#: At most this many rows in one worksheet POST (a sample is a few hundred items at most).
WORKSHEET_MAX_ROWS = 2000


def _worksheet_inputs(draw: Any, attributes: tuple[str, ...]) -> list[worksheet_service.RowInput]:
    """The rows the page sent. "Alla attribut OK" for one row (its button) or for the checked
    rows sets every attribute of those rows to OK; other rows keep what was chosen."""
    form = request.form
    all_ok: set[int] = set()
    if "selected_ok" in form:
        all_ok = {i for i in (parse_id(v) for v in form.getlist("select")) if i is not None}
    row_ok = parse_id(form.get("row_ok"))
    if row_ok is not None:
        all_ok.add(row_ok)
    inputs = []
    for item in draw.items[:WORKSHEET_MAX_ROWS]:
        if f"version-{item.id}" not in form:
            continue
        if item.id in all_ok:
            values = tuple(ItemResult.OK.value for _a in attributes)
        else:
            values = tuple(
                form.get(f"attr-{item.id}-{n}", "")[:20] for n in range(len(attributes))
            )
        inputs.append(
            worksheet_service.RowInput(
                item_id=item.id,
                version=parse_version(form.get(f"version-{item.id}")),
                values=values,
            )
        )
    return inputs


@bp.route("/controls/<int:control_id>/worksheet", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def worksheet(control_id: int) -> str | WResponse:
    """The whole sample on one page, every attribute a compact choice, saved in one POST."""
    control = _control(control_id)
    current = lookups.current_draw(db.session(), control)
    attributes = attributes_for(control)
    form = WorksheetForm()
    submitted: dict[int, tuple[str, ...]] = {}
    problems: list[worksheet_service.RowProblem] = []
    if request.method == "POST":
        _require_work(control)
        if (redirected := _read_only(control)) is not None:
            return redirected
        if current is None:
            abort(404)
        if not form.validate_on_submit():
            flash_errors(form)
            return redirect(url_for("sampling.worksheet", control_id=control.id))
        inputs = _worksheet_inputs(current, attributes)
        try:
            saved = worksheet_service.save_rows(
                db.session(), current, inputs, actor=current_user, now=now_utc()
            )
            db.session.commit()
        except worksheet_service.WorksheetRejected as exc:
            db.session.rollback()
            problems = exc.problems
            conflicts = {p.item_id for p in problems if p.conflict}
            submitted = {r.item_id: r.values for r in inputs if r.item_id not in conflicts}
            flash(exc.message, "danger")
        except ServiceError as exc:
            _failed(exc)
            return redirect(url_for("sampling.worksheet", control_id=control.id))
        except StaleDataError:
            db.session.rollback()
            flash(_("Posten har ändrats av någon annan. Ladda om sidan och försök igen."), "danger")
            return redirect(url_for("sampling.worksheet", control_id=control.id))
        else:
            flash(
                _("%(n)s poster sparade.", n=len(saved)) if saved else _("Inget att spara."),
                "success" if saved else "info",
            )
            return redirect(url_for("sampling.worksheet", control_id=control.id))
    # A refused save shows the sheet again (200, as every form with errors) with the rows typed.
    return _render_worksheet(control, current, form=form, submitted=submitted, problems=problems)


def _render_worksheet(
    control: Control,
    current: Any,
    *,
    form: WorksheetForm | None = None,
    upload_form: WorksheetUploadForm | None = None,
    submitted: dict[int, tuple[str, ...]] | None = None,
    problems: list[worksheet_service.RowProblem] | None = None,
    upload_errors: list[str] | None = None,
) -> str:
    problems = problems or []
    return render_template(
        "sampling/worksheet.html",
        control=control,
        draw=current,
        form=form or WorksheetForm(formdata=None),
        upload_form=upload_form or WorksheetUploadForm(formdata=None),
        attributes=attributes_for(control),
        rows=worksheet_service.rows(current) if current is not None else [],
        columns=worksheet_service.columns(current) if current is not None else [],
        submitted=submitted or {},
        problems={p.item_id: p for p in problems},
        problem_list=problems,
        upload_errors=upload_errors or [],
        result_choices=[(r.value, _(ITEM_RESULT_TITLES[r])) for r in ItemResult],
        summary=overview.summary(db.session(), control),
        mus=current is not None and lookups.is_mus_draw(current),
        can_work=permissions.can_test_control(current_user, control),
        **_titles(),
    )


@bp.route("/controls/<int:control_id>/worksheet.xlsx")
@requires(permissions.is_authenticated)
def worksheet_xlsx(control_id: int) -> WResponse:
    """The working paper: the drawn sample with the attribute columns to fill in."""
    control = _control(control_id)
    current = lookups.current_draw(db.session(), control)
    if current is None:
        abort(404)
    header = worksheet_service.paper_header(current)
    return xlsx_response(
        header,
        worksheet_service.paper_rows(current),
        f"arbetspapper-{control.id}.xlsx",
        sheet=_("Arbetspapper"),
        hidden=(len(header) - 1, len(header)),  # the item's id and version
    )


@bp.route("/controls/<int:control_id>/worksheet/upload", methods=["POST"])
@requires(permissions.is_authenticated)
def worksheet_upload(control_id: int) -> str | WResponse:
    """The filled-in paper back: every row or none; items changed on the web since the
    download are conflicts, never overwritten."""
    control = _control(control_id)
    _require_work(control)
    if (redirected := _read_only(control)) is not None:
        return redirected
    current = lookups.current_draw(db.session(), control)
    if current is None:
        abort(404)
    form = WorksheetUploadForm()
    errors: list[str] = []
    if not form.validate_on_submit():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        return _render_worksheet(control, current, upload_form=form, upload_errors=errors)
    lines: dict[int, int] = {}
    try:
        with check_upload(
            form.file.data,
            allowed={"xlsx"},
            max_bytes=int(current_app.config["POPULATION_IMPORT_MAX_BYTES"]),
        ) as upload, open_table(upload.stream, upload.filename) as table:
            read = worksheet_service.read_paper(current, table)
        lines = {row.item_id: line for line, row in read}
        saved = worksheet_service.save_rows(
            db.session(), current, [row for _line, row in read], actor=current_user, now=now_utc()
        )
        db.session.commit()
    except TableError as exc:
        db.session.rollback()
        errors = [str(exc)]
    except worksheet_service.WorksheetRejected as exc:
        db.session.rollback()
        errors = [exc.message] + [
            _("Rad %(line)s (post %(n)s, %(key)s): %(message)s",
              line=lines[p.item_id], n=p.position, key=p.record_key, message=p.message)
            for p in exc.problems
        ]
    except ServiceError as exc:
        db.session.rollback()
        errors = list(exc.messages)
    except StaleDataError:
        db.session.rollback()
        errors = [_("Posten har ändrats av någon annan. Ladda om sidan och försök igen.")]
    if errors:
        # All or nothing: the page again (200) with one message per bad row.
        return _render_worksheet(control, current, upload_form=form, upload_errors=errors)
    flash(
        _("%(n)s poster sparade.", n=len(saved)) if saved else _("Inget att spara."),
        "success" if saved else "info",
    )
    return redirect(url_for("sampling.worksheet", control_id=control.id))


def _next_unassessed(item: SampleItem) -> SampleItem | None:
    later = [i for i in item.draw.items if not i.result and i.position > item.position]
    earlier = [i for i in item.draw.items if not i.result and i.position < item.position]
    return next(iter(later or earlier), None)


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def item(item_id: int) -> str | WResponse:
    sample_item = _item(item_id)
    control = sample_item.draw.control
    attributes = attributes_for(control)
    form_class = item_form_class(attributes)
    existing = {r.attribute: r.result for r in sample_item.attribute_results}
    deviation = item_results.item_deviation(db.session(), sample_item)
    mus = lookups.is_mus_draw(sample_item.draw)
    payments = control.check_type == CheckType.PAYMENTS
    if request.method == "POST":
        _require_work(control)
        form = form_class()
    else:
        form = form_class(formdata=None)
    # Fields the page does not show are not read either: an error on one would be invisible.
    if not mus:
        del form.audited_amount
    if not payments:
        del form.recovery_claim
    if request.method == "GET":
        form.version.data = str(sample_item.version)
        form.overall.data = sample_item.result
        form.comment.data = sample_item.comment
        if mus and sample_item.audited_amount_ore is not None:
            form.audited_amount.data = format_kronor(sample_item.audited_amount_ore)
        for index, attribute in enumerate(attributes):
            getattr(form, f"attr_{index}").data = existing.get(attribute)
        if deviation is not None:
            form.deviation_description.data = deviation.description
            if payments and deviation.recovery_claim_ore is not None:
                form.recovery_claim.data = format_kronor(deviation.recovery_claim_ore)
    if request.method == "POST" and form.validate_on_submit():
        results = {
            attribute: getattr(form, f"attr_{index}").data or ""
            for index, attribute in enumerate(attributes)
        }
        # Left open, the overall judgement follows from the attributes (all OK: OK).
        overall = form.overall.data or worksheet_service.derive_overall(
            tuple(results[a] for a in attributes)
        )
        # A missing or damaged version is a conflict, never a silent overwrite.
        version = parse_version(form.version.data)
        attached: str | None = None
        try:
            item_results.record_result(
                db.session(),
                sample_item,
                attribute_results=results,
                overall=overall,
                actor=current_user,
                now=now_utc(),
                comment=form.comment.data or "",
                audited_amount_ore=form.audited_amount.ore if mus else None,
                deviation_description=form.deviation_description.data or "",
                recovery_claim_ore=form.recovery_claim.ore if payments else None,
                expected_version=version,
            )
            if form.file.data:  # chosen under "Underlag": stored with the result, or refused
                upload = check_upload(
                    form.file.data,
                    allowed=evidence_store.ALLOWED_KINDS,
                    max_bytes=int(current_app.config["EVIDENCE_MAX_BYTES"]),
                )
                with upload:
                    attached = evidence_store.store_evidence(
                        sample_item,
                        upload,
                        storage=evidence_store.evidence_dir(current_app.instance_path),
                        actor=current_user,
                        now=now_utc(),
                    ).file_name
                db.session.flush()
            db.session.commit()
        except ServiceError as exc:
            _failed(exc)
        except StaleDataError:
            db.session.rollback()
            flash(_("Posten har ändrats av någon annan. Ladda om sidan och försök igen."), "danger")
        else:
            if attached:
                flash(
                    _(
                        "Resultatet för post %(n)s och underlaget ”%(name)s” är sparade.",
                        n=sample_item.position,
                        name=attached,
                    ),
                    "success",
                )
            else:
                flash(_("Resultatet för post %(n)s är sparat.", n=sample_item.position), "success")
            if request.form.get("next") == "1":
                following = _next_unassessed(sample_item)
                if following is not None:
                    return redirect(url_for("sampling.item", item_id=following.id))
                return redirect(url_for("sampling.items", control_id=control.id))
            return redirect(url_for("sampling.item", item_id=sample_item.id))
    population_item = sample_item.population_item
    columns = json.loads(sample_item.draw.population.columns_json or "[]")
    data = json.loads(population_item.data_json or "{}")
    action_form = ActionForm(formdata=None)
    action_form.token.data = new_form_token()
    action_form.owner_unit.choices = _unit_choices()
    action_form.owner_unit.data = control.responsible_unit_id
    return render_template(
        "sampling/item.html",
        control=control,
        item=sample_item,
        form=form,
        attribute_fields=[getattr(form, f"attr_{i}") for i in range(len(attributes))],
        population_item=population_item,
        columns=columns,
        data=data,
        mus=mus,
        payments=payments,
        deviation=deviation,
        evidence_form=EvidenceForm(formdata=None),
        action_form=action_form,
        can_work=permissions.can_test_control(current_user, control),
        audit_related=[
            *(("attribute_result", r.id) for r in sample_item.attribute_results),
            *(("evidence", e.id) for e in sample_item.evidence),
        ],
        **_titles(),
    )


def _unit_choices() -> list[Any]:
    units = db.session.scalars(select(Unit).order_by(Unit.code))
    return choices((u.id, f"{u.code} – {u.name}") for u in units)


@bp.route("/items/<int:item_id>/evidence", methods=["POST"])
@requires(permissions.is_authenticated)
def evidence_upload(item_id: int) -> WResponse:
    sample_item = _item(item_id)
    _require_work(sample_item.draw.control)
    form = EvidenceForm()
    if not form.validate_on_submit():
        flash(_("Välj en fil."), "danger")
        return redirect(url_for("sampling.item", item_id=sample_item.id))
    try:
        upload = check_upload(
            form.file.data,
            allowed=evidence_store.ALLOWED_KINDS,
            max_bytes=int(current_app.config["EVIDENCE_MAX_BYTES"]),
        )
        with upload:
            stored = evidence_store.store_evidence(
                sample_item,
                upload,
                storage=evidence_store.evidence_dir(current_app.instance_path),
                actor=current_user,
                now=now_utc(),
            )
        db.session.flush()
    except ServiceError as exc:
        _failed(exc)
    else:
        db.session.commit()
        flash(_("Underlaget ”%(name)s” är sparat.", name=stored.file_name), "success")
    return redirect(url_for("sampling.item", item_id=sample_item.id))


@bp.route("/evidence/<int:evidence_id>")
@requires(permissions.is_authenticated)
def evidence_download(evidence_id: int) -> WResponse:
    stored = db.get_or_404(Evidence, evidence_id)
    require(permissions.can_view_control(current_user, stored.item.draw.control), hide=True)
    return send_evidence(
        stored.stored_name,
        stored.content_type,
        stored.file_name,
        missing_url=url_for("sampling.item", item_id=stored.item_id),
    )


@bp.route("/items/<int:item_id>/action", methods=["POST"])
@requires(permissions.is_authenticated)
def item_action(item_id: int) -> WResponse:
    sample_item = _item(item_id)
    _require_work(sample_item.draw.control)
    form = ActionForm()
    form.owner_unit.choices = _unit_choices()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("sampling.item", item_id=sample_item.id))
    unit = db.session.get(Unit, form.owner_unit.data)
    try:
        if unit is None:
            raise ServiceError(_("Välj ansvarig enhet."))
        item_results.raise_item_action(
            db.session(),
            sample_item,
            description=form.description.data or "",
            owner_unit=unit,
            due_date=form.due_date.data or date.min,
            actor=current_user,
            now=now_utc(),
            form_token=form.token.data or None,
        )
    except AlreadyDone as exc:
        db.session.rollback()
        flash(exc.message, "info")
    except ServiceError as exc:
        _failed(exc)
    else:
        db.session.commit()
        flash(_("Åtgärden är registrerad för %(unit)s.", unit=unit.code), "success")
    return redirect(url_for("sampling.item", item_id=sample_item.id))


# --- hygiene ------------------------------------------------------------------------------------


@bp.route("/controls/<int:control_id>/hygiene", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def hygiene(control_id: int) -> str | WResponse:
    control = _control(control_id)
    _require_work(control)
    if (locked := _read_only(control)) is not None:
        return locked
    if control.check_type != CheckType.HYGIENE:
        flash(_("Granskningen gäller inte hygienrutiner."), "warning")
        return redirect(url_for("sampling.control", control_id=control.id))
    form = HygieneForm()
    if request.method == "GET":
        form.unit_name.data = request.args.get("unit", "")
        if request.args.get("profession"):
            form.profession.data = request.args["profession"]
        form.kind.data = request.args.get("kind", "observation")
        try:
            form.observed_on.data = date.fromisoformat(request.args.get("date", ""))
        except ValueError:
            form.observed_on.data = local_date(now_utc())
    if form.validate_on_submit():
        try:
            observations.add_observation(
                db.session(),
                control,
                unit_name=form.unit_name.data or "",
                profession=form.profession.data or "",
                observed_on=form.observed_on.data,
                kind=form.kind.data or "",
                steps=[getattr(form, f"step{i}").data or "" for i in range(1, 9)],
                actor=current_user,
                now=now_utc(),
            )
        except ServiceError as exc:
            _failed(exc)
        else:
            db.session.commit()
            flash(_("Observationen är sparad."), "success")
            return redirect(
                url_for(
                    "sampling.hygiene",
                    control_id=control.id,
                    unit=form.unit_name.data,
                    profession=form.profession.data,
                    kind=form.kind.data,
                    date=form.observed_on.data.isoformat() if form.observed_on.data else "",
                )
            )
    recent = db.session.scalars(
        select(HygieneObservation)
        .where(HygieneObservation.control_id == control.id)
        .order_by(HygieneObservation.id.desc())
        .limit(10)
    ).all()
    units = db.session.scalars(
        select(HygieneObservation.unit_name)
        .where(HygieneObservation.control_id == control.id)
        .distinct()
        .order_by(HygieneObservation.unit_name)
    ).all()
    return render_template(
        "sampling/hygiene.html",
        control=control,
        form=form,
        steps=[getattr(form, f"step{i}") for i in range(1, 9)],
        recent=recent,
        units=units,
        count=observations.hygiene_count(db.session(), control),
    )


@bp.route("/controls/<int:control_id>/hygiene/import", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def hygiene_import(control_id: int) -> str | WResponse:
    control = _control(control_id)
    _require_work(control)
    if (locked := _read_only(control)) is not None:
        return locked
    form = HygieneImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with _checked_table(form.file.data) as upload:
                added = importing.import_observations(
                    db.session(),
                    control,
                    upload.stream,
                    upload.filename,
                    actor=current_user,
                    now=now_utc(),
                )
        except ServiceError as exc:
            errors = _failed(exc)
        else:
            db.session.commit()
            flash(_("%(n)s observationer är importerade.", n=added), "success")
            return redirect(url_for("sampling.evaluate", control_id=control.id))
    return render_template(
        "sampling/hygiene_import.html", control=control, form=form, errors=errors
    )


# --- evaluation ---------------------------------------------------------------------------------


@bp.route("/controls/<int:control_id>/evaluate", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def evaluate(control_id: int) -> str | WResponse:
    control = _control(control_id)
    form = ConclusionForm()
    conflict = None
    if request.method == "POST":
        _require_work(control)
        if form.validate_on_submit():
            try:
                evaluation.write_conclusion(
                    db.session(),
                    control,
                    form.conclusion.data or "",
                    expected_version=parse_version(form.version.data),
                )
            except StaleObject as exc:
                # Both texts stay visible: the saved one above, the user's own in the form.
                db.session.rollback()
                form.form_errors.append(exc.message)
                control = conflict = _control(control_id)
                form.version.data = str(control.version)
            except ServiceError as exc:
                _failed(exc)
            else:
                db.session.commit()
                flash(_("Slutsatsen är sparad."), "success")
                return redirect(url_for("sampling.evaluate", control_id=control.id))
    else:
        form.conclusion.data = control.conclusion
        form.version.data = str(control.version)
    current = lookups.current_draw(db.session(), control)
    return render_template(
        "sampling/evaluate.html",
        control=control,
        form=form,
        evaluation=evaluation.evaluate(db.session(), control),
        plan=current.plan if current else lookups.current_plan(db.session(), control),
        draw=current,
        can_work=permissions.can_work_on_control(current_user, control),
        conflict=conflict,
        **_titles(),
    )


__all__ = ["SelectionMethod", "bp"]
