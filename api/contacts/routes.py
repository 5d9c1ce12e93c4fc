from api.common.crud import crud_controller
from api.contacts.schemas import Contact, ContactCreate, ContactUpdate
from api.contacts.service import contact_service

ContactsController = crud_controller(contact_service, ContactCreate, ContactUpdate, Contact)

routers = [ContactsController]
