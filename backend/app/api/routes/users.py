from fastapi import APIRouter, HTTPException, status

from app.api.deps import AdminUser, SessionDep, SettingsDep
from app.api.responses import EMAIL_TAKEN, NOT_ADMIN, NOT_AUTHENTICATED
from app.schemas import UserCreate, UserOut
from app.services import users

# Every users route is for admins only.
router = APIRouter(prefix="/api/users", tags=["users"],
                   responses={**NOT_AUTHENTICATED, **NOT_ADMIN})


@router.get("", response_model=list[UserOut])
def list_users(_: AdminUser, session: SessionDep):
    return users.list_all(session)


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED,
             responses=EMAIL_TAKEN)
def create_user(body: UserCreate, _: AdminUser, session: SessionDep, settings: SettingsDep):
    try:
        return users.create(session, settings, body)
    except users.EmailTaken:
        raise HTTPException(status.HTTP_409_CONFLICT, "email already registered") from None
