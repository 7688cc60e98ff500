from django.urls import path

from patron.rewards import views_catalog, views_coupons, views_orders, views_reports

app_name = "rewards"
urlpatterns = [
    # the points mall's catalog
    path("rewards/", views_catalog.reward_list, name="list"),
    path("rewards/new/", views_catalog.reward_new, name="new"),
    path("rewards/<int:pk>/", views_catalog.reward_detail, name="detail"),
    path("rewards/<int:pk>/edit/", views_catalog.reward_edit, name="edit"),
    path("rewards/<int:pk>/image/", views_catalog.reward_image, name="image"),
    path("rewards/<int:pk>/stock/", views_catalog.adjust_stock, name="stock"),
    path("rewards/<int:pk>/codes/", views_catalog.add_codes, name="codes"),
    path("rewards/categories/", views_catalog.category_list, name="categories"),
    path("rewards/categories/<int:pk>/", views_catalog.category_edit, name="category_edit"),
    path("rewards/badges/", views_catalog.badge_list, name="badges"),
    path("rewards/badges/new/", views_catalog.badge_new, name="badge_new"),
    path("rewards/badges/<int:pk>/", views_catalog.badge_edit, name="badge_edit"),
    # orders
    path("rewards/orders/", views_orders.order_list, name="orders"),
    path("rewards/orders/<str:number>/", views_orders.order_detail, name="order"),
    path("rewards/orders/<str:number>/confirm/", views_orders.order_confirm, name="order_confirm"),
    path("rewards/orders/<str:number>/fulfil/", views_orders.order_fulfil, name="order_fulfil"),
    path("rewards/orders/<str:number>/use/", views_orders.order_use_voucher, name="order_use"),
    path("rewards/orders/<str:number>/cancel/", views_orders.order_cancel, name="order_cancel"),
    # a member's rewards
    path("members/<int:pk>/rewards/", views_orders.redeem_list, name="redeem"),
    path("members/<int:pk>/rewards/<int:reward_pk>/", views_orders.redeem_reward, name="redeem_reward"),
    path("members/<int:pk>/coupons/issue/", views_coupons.member_issue, name="member_issue"),
    # coupons
    path("coupons/", views_coupons.batch_list, name="batches"),
    path("coupons/new/", views_coupons.batch_new, name="batch_new"),
    path("coupons/lookup/", views_coupons.lookup, name="lookup"),
    path("coupons/<int:pk>/", views_coupons.batch_detail, name="batch"),
    path("coupons/<int:pk>/edit/", views_coupons.batch_edit, name="batch_edit"),
    path("coupons/<int:pk>/generate/", views_coupons.batch_generate, name="batch_generate"),
    path("coupons/<int:pk>/export/", views_coupons.batch_export, name="batch_export"),
    path("coupons/<int:pk>/issue/", views_coupons.batch_issue, name="batch_issue"),
    path("coupons/<int:pk>/issue-group/", views_coupons.batch_issue_group, name="batch_issue_group"),
    path("coupons/codes/<int:pk>/void/", views_coupons.coupon_void, name="coupon_void"),
    # reports
    path("rewards/report/", views_reports.mall_report, name="mall_report"),
    path("rewards/report/export/", views_reports.mall_export, name="mall_export"),
    path("coupons/report/", views_reports.coupon_report, name="coupon_report"),
    path("coupons/report/export/", views_reports.coupon_export, name="coupon_export"),
]
