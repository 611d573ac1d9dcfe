from django.db import migrations, models
from django.db.models import Case, OuterRef, Subquery, When
from django.db.models.lookups import Exact


def fill_last_public_from_staff(apps, schema_editor):
    """Who wrote each ticket's latest public message, as the services keep it from now on."""
    Ticket = apps.get_model("support", "Ticket")
    Message = apps.get_model("support", "Message")
    public = Message.objects.filter(ticket=OuterRef("pk"), is_internal=False).order_by("-created_at")
    from_customer = Subquery(public.values("is_from_customer")[:1])
    Ticket.objects.update(last_public_from_staff=Case(When(Exact(from_customer, False), then=True), default=False))


class Migration(migrations.Migration):

    dependencies = [
        ("support", "0008_ticket_conversation_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="last_public_from_staff",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(fill_last_public_from_staff, migrations.RunPython.noop),
    ]
