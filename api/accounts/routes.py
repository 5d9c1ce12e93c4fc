from api.accounts.schemas import Account, AccountCreate, AccountUpdate
from api.accounts.service import account_service
from api.web.crud import crud_controller

AccountsController = crud_controller(account_service, AccountCreate, AccountUpdate, Account)

routers = [AccountsController]
