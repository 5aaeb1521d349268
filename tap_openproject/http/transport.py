"""Transport: the API-token credential, and a session whose redirects never leave the instance."""

from __future__ import annotations

import base64
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import requests.auth

from tap_openproject.errors import UnsafeRequestError


class ApiKeyAuth(requests.auth.AuthBase):
    """HTTP Basic `apikey:<token>`, OpenProject's API-token scheme. Its repr never shows the token."""

    def __init__(self, api_key: str) -> None:
        token = base64.b64encode(f"apikey:{api_key}".encode()).decode()
        self._header = f"Basic {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "ApiKeyAuth(apikey:[REDACTED])"


def within(url: str, root: str) -> bool:
    """True when `url` is under `root`: same scheme, host and port, and a path below root's path."""
    target, base = urlsplit(url), urlsplit(root)
    if (target.scheme, target.hostname, target.port) != (base.scheme, base.hostname, base.port):
        return False
    base_path = base.path.rstrip("/") + "/"
    return (target.path.rstrip("/") + "/").startswith(base_path)


class ScopedSession(requests.Session):
    """A session whose redirects never leave the instance: credentials stay on base_url's scheme and host."""

    def __init__(self, root: str, pool_size: int = 10) -> None:
        super().__init__()
        self.root = root
        self.max_redirects = 5
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """Follow a redirect only when it stays under base_url; refuse it otherwise."""
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        absolute = urljoin(resp.url, target)
        if not within(absolute, self.root):
            where = urlsplit(absolute)
            raise UnsafeRequestError(
                f"OpenProject redirected {urlsplit(resp.url).path} to {where.scheme}://{where.netloc}{where.path}, "
                "outside base_url; the API key is not sent there. If that is the real address, set base_url to it"
            )
        return target
