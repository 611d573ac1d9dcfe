"""Signing in and out: a password (throttled), the signed link every mail carries, and
password reset by mail through Django's own views with our templates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from support import rules
from support import sign_in_throttle as throttle
from support.links import read_ticket_link
from support.models import Ticket, User
from support.network import client_address

from .forms import SignInForm


def home_for(user: Any) -> str:
    return reverse("console-queue") if user.is_staff else reverse("my-tickets")


class SignInView(auth_views.LoginView):
    template_name = "support/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        email = str(request.POST.get("username", ""))
        if throttle.is_blocked(client=client_address(request), email=email):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Too many failed attempts. Wait 15 minutes, or reset your password by mail.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        throttle.note_failure(client=client_address(self.request), email=str(self.request.POST.get("username", "")))
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        throttle.clear(email=form.get_user().email)
        return super().form_valid(form)

    def get_default_redirect_url(self) -> str:
        return home_for(self.request.user)


def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """The admin site's sign-in is ours (`SignInView`, under the limit on failed passwords): the
    admin's own form counted no failure, so it was a way round the lockout for staff passwords."""
    user = request.user
    if user.is_authenticated and not (user.is_active and user.is_staff):
        # Signed in, but the admin is not theirs: sent to sign in they would come straight back.
        messages.error(request, "The admin is for staff only.")
        return redirect(home_for(user))
    target = request.GET.get("next") or reverse("admin:index")
    return HttpResponseRedirect(f"{reverse('sign-in')}?{urlencode({'next': target})}")


class SignOutView(auth_views.LogoutView):
    next_page = "/login/"


@require_GET
def ticket_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link from a mail: opens that ticket signed in as its customer.

    It signs in only an active, non-staff person who may still see the ticket; an altered or
    expired link is refused (with the way to sign in instead), and it never reaches any other
    ticket. Staff are not signed in by a link (a forwarded mail must not hand out the console):
    they get the console's page of that ticket behind the password sign-in.
    """
    link = read_ticket_link(token)
    person = User.objects.filter(pk=link.person_id, is_active=True).first() if link else None
    ticket = Ticket.objects.filter(pk=link.ticket_id).first() if link else None
    if link is None or person is None or ticket is None or not rules.can_view_ticket(person, ticket):
        return render(request, "support/link_invalid.html", status=400)
    if person.is_staff:
        return redirect("console-ticket", reference=ticket.reference)
    if request.user.is_authenticated and request.user.pk != person.pk:
        logout(request)
    if not request.user.is_authenticated:
        login(request, person, backend="django.contrib.auth.backends.ModelBackend")
        messages.info(request, f"Signed in as {person.email} from the link in your mail.")
    return HttpResponseRedirect(reverse("customer-ticket", kwargs={"reference": ticket.reference}))


class ResetForm(PasswordResetForm):
    """Also customers who only ever wrote mail (no usable password yet) may set one this way."""

    def get_users(self, email: str) -> Iterator[Any]:
        yield from User.objects.filter(email__iexact=email.strip(), is_active=True)


password_reset = auth_views.PasswordResetView.as_view(
    form_class=ResetForm,
    template_name="support/password_reset.html",
    email_template_name="support/password_reset_email.txt",
    subject_template_name="support/password_reset_subject.txt",
    success_url="/password-reset/sent/",
)
password_reset_sent = auth_views.PasswordResetDoneView.as_view(template_name="support/password_reset_sent.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="support/password_reset_confirm.html", success_url="/password-reset/done/"
)
password_reset_done = auth_views.PasswordResetCompleteView.as_view(template_name="support/password_reset_done.html")
