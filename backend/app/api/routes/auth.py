from fastapi import APIRouter, HTTPException, status

from app.api.deps import ClientIpDep, CurrentUser, LimiterDep, SessionDep, SettingsDep
from app.api.responses import BAD_CREDENTIALS, LOGIN_THROTTLED, NOT_AUTHENTICATED
from app.schemas import LoginRequest, TokenResponse, UserOut
from app.services import auth

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=TokenResponse,
             responses={**BAD_CREDENTIALS, **LOGIN_THROTTLED})
def login(
    body: LoginRequest,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    ip: ClientIpDep,
):
    try:
        token, expires_in = auth.login(
            session, settings, limiter, client_ip=ip, email=body.email, password=body.password
        )
    except auth.LoginThrottled as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed login attempts",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except auth.BadCredentials:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid email or password") from None
    return TokenResponse(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=UserOut, responses=NOT_AUTHENTICATED)
def me(user: CurrentUser):
    return user
