"""Tax bureau (税务局): wage, labour, business, interest and rental income
(`tax_income`), and the business registrations it holds for market regulation
(`business_registration`). Answers households.checked_tax."""

from meanstest.adapters.base import Adapter

ADAPTER = Adapter(
    department="tax",
    tables=("tax_income", "business_registration"),
    flag="checked_tax",
    description="税务局 个人所得税明细、市场主体登记",
)
