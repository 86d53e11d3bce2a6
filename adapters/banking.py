"""Banks (银行业金融机构, through the financial regulator): deposits, wealth products,
securities, funds and insurance (`bank`). Answers households.checked_bank."""

from meanstest.adapters.base import Adapter

ADAPTER = Adapter(
    department="bank",
    tables=("bank",),
    flag="checked_bank",
    description="金融机构 存款、理财、证券、基金、保险",
)
