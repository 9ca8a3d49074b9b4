"""Errors that services raise for the user to read."""

from __future__ import annotations


class ServiceError(Exception):
    """A business rule said no. The message is shown to the user as is."""

    def __init__(self, message: str, *, messages: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.messages = messages or [message]


class NotAllowed(ServiceError):
    """The acting user may not do this."""


class StaleObject(ServiceError):
    """Someone else saved the object since the form was loaded."""


class AlreadyDone(ServiceError):
    """The same form was sent again (a double click): what the first one made is ``object_id``."""

    def __init__(self, message: str, *, object_id: int) -> None:
        super().__init__(message)
        self.object_id = object_id
