"""Human resources and social security (人社局) and medical insurance (医保局):
pensions, unemployment and injury benefits, contributions, medical settlements and
employment records (`social_insurance`). Answers households.checked_social_insurance."""

from meanstest.adapters.base import Adapter

ADAPTER = Adapter(
    department="social_insurance",
    tables=("social_insurance",),
    flag="checked_social_insurance",
    description="人社、医保 待遇、缴费、结算、就业登记",
)
