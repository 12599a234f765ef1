from fastapi import APIRouter

from app.api.deps import CurrentUser, SettingsDep
from app.api.responses import NOT_AUTHENTICATED
from app.schemas import TemplateList
from app.services.template_registry import list_template_images

router = APIRouter(prefix="/api/templates", tags=["templates"], responses=NOT_AUTHENTICATED)


@router.get("", response_model=TemplateList)
def list_templates(_: CurrentUser, settings: SettingsDep):
    return {"templates": list_template_images(settings.TEMPLATES_IMAGES_DIR)}
