"""HTTP: transport, response classification, the retry policy, the shared guard, and the one client."""

from tap_openproject.http.client import Missing, OpenProjectClient
from tap_openproject.http.guard import Guard
from tap_openproject.http.responses import ApiResponse, Failure
from tap_openproject.http.retry import RetryPolicy, Wait
from tap_openproject.http.transport import within

__all__ = ["ApiResponse", "Failure", "Guard", "Missing", "OpenProjectClient", "RetryPolicy", "Wait", "within"]
