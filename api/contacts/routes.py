from api.contacts.schemas import Contact, ContactCreate, ContactUpdate
from api.contacts.service import contact_service
from api.web.crud import crud_controller

ContactsController = crud_controller(contact_service, ContactCreate, ContactUpdate, Contact)

routers = [ContactsController]
