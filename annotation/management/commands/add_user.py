from core.management.base import ServiceCommand
from core.roles import ROLES

from ...services.users import user_add, user_token


class Command(ServiceCommand):
    help = "Create a user with a role (or give an existing user that role). --token prints an API token last."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password", help="At least 8 characters. Without it the account has no password login.")
        parser.add_argument("--token", action="store_true", help="Print the user's API token as the last line.")

    def handle(self, *args, username, role, password, token, **options):
        user = user_add(username=username, role=role, password=password)
        self.stdout.write(f"user {user.username} has role {role}")
        if token:
            self.stdout.write(user_token(user=user))
