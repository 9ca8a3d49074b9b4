"""Import every model module so that the metadata is complete (create_all, Alembic)."""

from riskreg.audit import models as audit_models  # noqa: F401
from riskreg.auth import models as auth_models  # noqa: F401
from riskreg.controls import models as controls_models  # noqa: F401
from riskreg.plans import models as plans_models  # noqa: F401
from riskreg.reminders import models as reminders_models  # noqa: F401
from riskreg.reports import models as reports_models  # noqa: F401
from riskreg.risks import models as risks_models  # noqa: F401
from riskreg.sampling import models as sampling_models  # noqa: F401
from riskreg.sso import models as sso_models  # noqa: F401
