from api.call_logs.schemas import CallLog, CallLogCreate, CallLogUpdate
from api.call_logs.service import call_log_service
from api.web.crud import crud_controller

CallLogsController = crud_controller(
    call_log_service, CallLogCreate, CallLogUpdate, CallLog, tag="call logs"
)

routers = [CallLogsController]
