# Customers whose channel is still to be asked who they are (services/profile.py): the profile
# batch picks them by this mark, through a partial index that holds only the marked ones.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0012_search_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="profile_due_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="profile due at"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("profile_due_at__isnull", False)),
                fields=["channel", "profile_due_at"],
                name="customer_profile_due",
            ),
        ),
    ]
