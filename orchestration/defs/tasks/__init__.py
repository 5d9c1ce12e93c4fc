"""Tasks area: fires due task reminders and overdue alerts every minute."""
