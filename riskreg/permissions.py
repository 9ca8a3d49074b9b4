"""Who may do what: the single source of truth for authorisation.

Views call these predicates before doing anything; templates call the same predicates only to
hide buttons. Object-level predicates take the object so that unit scoping is decided here too.
Routes declare their coarse permission with `@requires(...)`, which the role × endpoint matrix
test reads.

Lists cannot ask a Python predicate row by row (issue 15: 9,384 statements for one page), so
beside each object predicate stands its SQL twin, a ``scope_*`` function returning a
where-clause for the same rule. tests/test_scope_agreement.py checks, for every role on
generated data, that the rows the clause selects are exactly those the predicate allows:
change both together.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, TypeAlias, TypeGuard, TypeVar, cast

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, false, or_, select, true

from riskreg.auth.models import Role, User
from riskreg.controls.models import (
    Action,
    Control,
    ControlStatus,
    Deviation,
    control_controllers,
)
from riskreg.plans.models import Plan
from riskreg.reports.models import Report, ReportKind
from riskreg.risks.models import Risk
from riskreg.sampling.models import (
    HygieneObservation,
    Population,
    SampleDraw,
    SampleItem,
    SamplePlan,
)

F = TypeVar("F", bound=Callable[..., Any])

READ_ALL_ROLES = frozenset({Role.ADMIN, Role.CONTROLLER, Role.AUDITOR})


class Anonymous(Protocol):
    """Who ``current_user`` is before signing in: Flask-Login's ``AnonymousUserMixin``."""

    @property
    def is_authenticated(self) -> bool: ...


#: Whom a predicate asks about: a signed-in :class:`User` or the anonymous visitor (templates
#: and ``@requires`` pass ``current_user``; commands pass the ``--as`` user).
Viewer: TypeAlias = User | Anonymous


def _role(user: Viewer | None) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    # Signed in means a User: Flask-Login's user loader returns nothing else.
    return Role(cast(User, user).role)


def _has_role(user: Viewer, role: Role) -> TypeGuard[User]:
    """``user`` is signed in with ``role`` (and is therefore a :class:`User`)."""
    return _role(user) == role


def is_admin(user: Viewer) -> bool:
    return _role(user) == Role.ADMIN


def is_authenticated(user: Viewer) -> TypeGuard[User]:
    return _role(user) is not None


def reads_everything(user: Viewer) -> bool:
    """Admins, controllers and auditors read the whole register; others see their units."""
    return _role(user) in READ_ALL_ROLES


# --- administration -------------------------------------------------------------------------


def can_manage_users(user: Viewer) -> bool:
    return is_admin(user)


def can_manage_units(user: Viewer) -> bool:
    return is_admin(user)


def can_manage_matrix(user: Viewer) -> bool:
    return is_admin(user)


# --- plans and risks ------------------------------------------------------------------------


def can_view_plans(user: Viewer) -> bool:
    return is_authenticated(user)


def can_view_plan(user: Viewer, plan: Plan) -> bool:
    return is_authenticated(user)


def can_manage_plans(user: Viewer) -> bool:
    """Create, import, adopt plans and edit their rows: the internal control coordinator."""
    return is_admin(user)


def can_export_plan(user: Viewer) -> bool:
    return reads_everything(user)


def can_view_risk(user: Viewer, risk: Risk) -> bool:
    if reads_everything(user):
        return True
    if not is_authenticated(user):
        return False
    return risk.responsible_unit_id in user.scoped_unit_ids()


def scope_risks(user: Viewer) -> ColumnElement[bool]:
    """SQL twin of :func:`can_view_risk`: a where-clause on ``Risk``."""
    if reads_everything(user):
        return true()
    if not is_authenticated(user):
        return false()
    return _unit_in_scope(Risk.responsible_unit_id, user)


def _unit_in_scope(column: Any, user: User) -> ColumnElement[bool]:
    """``column`` names one of the user's units or a unit below them.

    The unit tree is small (hundreds of rows) and read once per request; the objects are
    what grow, so the ids go into the query as a list.
    """
    ids = sorted(user.scoped_unit_ids())
    return column.in_(ids) if ids else false()


def can_edit_risk(user: Viewer, risk: Risk | None = None) -> bool:
    return is_admin(user)


def visible_unit_ids(user: User) -> set[int] | None:
    """Unit ids whose objects the user may read; None means every unit."""
    if reads_everything(user):
        return None
    return user.scoped_unit_ids()


# --- controls (granskningar), deviations and actions -----------------------------------------

def _in_scope(user: Viewer, unit_id: int) -> bool:
    return is_authenticated(user) and unit_id in user.scoped_unit_ids()


def can_create_control(user: Viewer) -> bool:
    """Controllers plan the checks of the plan; the coordinator may too."""
    return _role(user) in (Role.ADMIN, Role.CONTROLLER)


def can_view_control(user: Viewer, control: Control) -> bool:
    if reads_everything(user) and _role(user) != Role.CONTROLLER:
        return True
    if _has_role(user, Role.CONTROLLER):
        # Controllers read the plan, but work material only of the controls assigned to them.
        return control.is_controller(user)
    return _in_scope(user, control.responsible_unit_id)


def scope_controls(user: Viewer) -> ColumnElement[bool]:
    """SQL twin of :func:`can_view_control`: a where-clause on ``Control``."""
    if reads_everything(user) and _role(user) != Role.CONTROLLER:
        return true()
    if _has_role(user, Role.CONTROLLER):
        return Control.id.in_(
            select(control_controllers.c.control_id).where(
                control_controllers.c.user_id == user.id
            )
        )
    if not is_authenticated(user):
        return false()
    return _unit_in_scope(Control.responsible_unit_id, user)


def visible_control_ids(user: Viewer) -> Any:
    """A subquery of the ids of the controls the user may see (for objects that hang on one)."""
    return select(Control.id).where(scope_controls(user)).scalar_subquery()


def _of_visible_control(column: Any, user: Viewer) -> ColumnElement[bool]:
    if reads_everything(user) and _role(user) != Role.CONTROLLER:
        return true()
    if not is_authenticated(user):
        return false()
    return column.in_(visible_control_ids(user))


def scope_deviations(user: Viewer) -> ColumnElement[bool]:
    """Deviations are shown on their control's page: whoever sees the control sees them."""
    return _of_visible_control(Deviation.control_id, user)


def scope_samples(user: Viewer, model: Any = SampleDraw) -> ColumnElement[bool]:
    """The sample pages (population, plan, draw, hygiene observations) of a control are read
    by whoever may read the control (``can_view_control``, as riskreg/sampling/views.py
    checks): a where-clause on ``model``, any sampling table with a ``control_id``."""
    if model not in (Population, SamplePlan, SampleDraw, HygieneObservation):
        raise ValueError(f"{model!r} has no control_id")
    return _of_visible_control(model.control_id, user)


def scope_sample_items(user: Viewer) -> ColumnElement[bool]:
    """Sampled items, through their draw's control."""
    if reads_everything(user) and _role(user) != Role.CONTROLLER:
        return true()
    if not is_authenticated(user):
        return false()
    return SampleItem.draw_id.in_(select(SampleDraw.id).where(scope_samples(user, SampleDraw)))


def can_work_on_control(user: Viewer, control: Control) -> bool:
    """Import, draw, record results, conclude: the assigned controllers (and the coordinator)."""
    if _role(user) == Role.ADMIN:
        return True
    return _has_role(user, Role.CONTROLLER) and control.is_controller(user)


def can_download_rederivation(user: Viewer, control: Control) -> bool:
    """The re-derivation package of a sample: whoever may read the sample (auditors above all)."""
    return can_view_control(user, control)
def can_test_control(user: Viewer, control: Control) -> bool:
    """Import, plan, draw, record results: those who work on it, and only while it is in
    progress. Before the start the deviation definition is not locked yet (ISA 530); once
    submitted or approved, the control's sample pages are read-only."""
    return can_work_on_control(user, control) and control.status == ControlStatus.IN_PROGRESS


def can_approve_control(user: Viewer, control: Control) -> bool:
    """Approvers of the unit approve; never their own work (segregation of duties)."""
    return (
        _has_role(user, Role.APPROVER)
        and _in_scope(user, control.responsible_unit_id)
        and not control.is_controller(user)
    )


def can_reopen_control(user: Viewer, control: Control) -> bool:
    """An approved control is reopened (with a reason) only by the approver who approved it,
    or by an administrator; never by its controllers alone (the co-signed report would lose
    its approval behind the approver's back)."""
    if _role(user) == Role.ADMIN:
        return True
    if control.approved_by_id is not None and getattr(user, "id", None) != control.approved_by_id:
        return False
    return can_approve_control(user, control)


def can_view_action(user: Viewer, action: Action) -> bool:
    return can_view_control(user, action.control) or _in_scope(user, action.owner_unit_id)


def scope_actions(user: Viewer) -> ColumnElement[bool]:
    """SQL twin of :func:`can_view_action`: a where-clause on ``Action``."""
    if reads_everything(user) and _role(user) != Role.CONTROLLER:
        return true()
    if not is_authenticated(user):
        return false()
    return or_(
        Action.control_id.in_(visible_control_ids(user)),
        _unit_in_scope(Action.owner_unit_id, user),
    )


def can_answer_action(user: Viewer, action: Action) -> bool:
    """The owner unit answers what it has done."""
    if _role(user) == Role.ADMIN:
        return True
    answering_roles = (Role.UNIT_MEMBER, Role.APPROVER)
    return _role(user) in answering_roles and _in_scope(user, action.owner_unit_id)


def can_verify_action(user: Viewer, action: Action) -> bool:
    return can_work_on_control(user, action.control)


# --- reports, reminders, audit trail ----------------------------------------------------------

def can_view_reports(user: Viewer) -> bool:
    return is_authenticated(user)


def can_download_report(user: Viewer, control: Control) -> bool:
    return can_view_control(user, control)


def can_download_any_report(user: Viewer, report: Report) -> bool:
    """One report, of either kind (the Python side of :func:`scope_reports`)."""
    if report.kind == ReportKind.FOLLOWUP.value:
        # A signed follow-up is the full one; whoever may see the follow-up gets it.
        return can_view_followup(user)
    return report.control is not None and can_download_report(user, report.control)


def scope_reports(user: Viewer) -> ColumnElement[bool]:
    """SQL twin of :func:`can_download_any_report`: a where-clause on ``Report``."""
    if reads_everything(user) and _role(user) != Role.CONTROLLER:
        return true()
    if not is_authenticated(user):
        return false()
    review = Report.control_id.in_(visible_control_ids(user))
    if can_view_followup(user):
        return or_(Report.kind == ReportKind.FOLLOWUP.value, review)
    return review


def can_verify_reports(user: Viewer) -> bool:
    """Anyone signed in may check a PDF; verification reveals nothing stored."""
    return is_authenticated(user)


def can_sign_review(user: Viewer, control: Control) -> bool:
    """The certifying signature of a review report: an assigned controller of the control."""
    return _has_role(user, Role.CONTROLLER) and control.is_controller(user)


def can_cosign_review(user: Viewer, control: Control) -> bool:
    """The co-signature: an approver who may approve the control (never one of its controllers)."""
    return can_approve_control(user, control)


def can_view_followup(user: Viewer) -> bool:
    """The yearly follow-up of a plan: the register's readers and the approvers who present it."""
    return reads_everything(user) or _role(user) == Role.APPROVER


def followup_scope(user: Viewer) -> Callable[[Control], bool] | None:
    """Which controls the follow-up report (page, preview PDF, XLSX) shows this user.

    One rule: the report holds what the user sees everywhere else. Roles that see every
    control (administrator, auditor) get the full report (None: no filter); a unit-scoped
    approver gets their units' part, a controller the controls assigned to them. The signed
    report, which the coordinator signs and an approver co-signs, is always the full one.
    """
    if reads_everything(user) and _role(user) != Role.CONTROLLER:
        return None
    return lambda control: can_view_control(user, control)


def scope_followup(user: Viewer) -> ColumnElement[bool] | None:
    """SQL twin of :func:`followup_scope`: None for the full report, else a clause on
    ``Control``."""
    if followup_scope(user) is None:
        return None
    return scope_controls(user)


def can_sign_followup(user: Viewer) -> bool:
    """The coordinator (administrator) certifies the follow-up."""
    return is_admin(user)


def can_cosign_followup(user: Viewer) -> bool:
    return _role(user) == Role.APPROVER


def can_manage_reminders(user: Viewer) -> bool:
    return is_admin(user)


def can_view_reminder_log(user: Viewer) -> bool:
    return _role(user) in (Role.ADMIN, Role.AUDITOR)


def can_view_audit_trail(user: Viewer) -> bool:
    return _role(user) in (Role.ADMIN, Role.AUDITOR)


def scope_audit_entries(user: Viewer) -> ColumnElement[bool]:
    """The trail is not split by unit: those who read it read all of it, others none."""
    return true() if can_view_audit_trail(user) else false()


def can_export_all_reports(user: Viewer) -> bool:
    """Copy every signed report out of riskreg (archiving): readers of the whole register."""
    return reads_everything(user)


# --- command line -----------------------------------------------------------------------------

#: `riskreg` commands that act on the register on behalf of a named user (`--as USERNAME`): the
#: user must be active and pass the same predicate as on the web; the audit trail names them.
CLI_ON_BEHALF_OF: dict[str, Callable[[User], bool]] = {
    "users create": can_manage_users,
    "users set-password": can_manage_users,
    "plan import": can_manage_plans,
    "plan export": can_export_plan,
    "reports export": can_export_all_reports,
}
#: Commands of the server itself, run by its operator (cron, deployment): no user, and none of
#: them changes the register's content or hands it out. Why each is one:
CLI_OPERATOR: dict[str, str] = {
    "db": "schema migrations (deployment)",
    "keys": "the signing keys on the server's disk or HSM and the users they are issued to",
    "reminders send": "the scheduled reminder job; it sends what the rules say, nothing else",
    "audit verify": "checks the hash chain; prints a verdict and entry ids only",
    "audit checkpoint": "signs the trail's newest entry number and hash; writes them outside "
    "the database (and mails them to the auditors); changes no register content",
    "sample verify": "re-derives a stored sample; prints a verdict only",
    "reports verify": "checks a PDF the operator holds; prints a verdict only",
    "storage": "lists and removes files on the server's own disk that no row refers to",
    "demo": "demo data for a development machine",
    "start": "the development server with demo data",
    "run": "Flask's development server",
    "shell": "Flask's shell: the operator's own access to the server",
    "routes": "lists URLs",
    "limiter": "Flask-Limiter's maintenance of the login throttle",
}


# --- route declarations -----------------------------------------------------------------------

PUBLIC = "public"


def requires(check: Callable[[Viewer], bool] | str) -> Callable[[F], F]:
    """Declare and enforce the coarse permission of a route.

    Anonymous users are sent to the login page; signed-in users without the permission get 403.
    Object-level checks (unit scope) follow inside the view with the predicates above.
    """

    def decorator(view: F) -> F:
        if check == PUBLIC:
            view.permission = PUBLIC  # type: ignore[attr-defined]
            return view
        if isinstance(check, str):
            raise ValueError(f"unknown permission {check!r}: give a predicate or PUBLIC")

        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            from riskreg.extensions import login_manager

            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not check(current_user):
                abort(403)
            return view(*args, **kwargs)

        wrapped.permission = check  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def require(allowed: bool, *, hide: bool = False) -> None:
    """Stop the request unless `allowed`.

    hide=True answers 404, so probing ids of other units' objects reveals nothing.
    """
    if not allowed:
        abort(404 if hide else 403)


TEMPLATE_PREDICATES: dict[str, Callable[..., bool]] = {
    name: obj
    for name, obj in dict(globals()).items()
    if name.startswith(("can_", "is_")) or name == "reads_everything"
}
