"""REST paths of the Wix APIs we call (SPEC.md §1).

The ratings prefix is a project conjecture (SPEC.md §6.1, §9): Wix publishes no REST path for Ratings. It
lives here, once, and both the client and the emulator read it, so a real site's answer changes one line.
"""

CONTACTS = "/contacts/v4/contacts"
CONTACTS_QUERY = "/contacts/v4/contacts/query"
EXTENDED_FIELDS = "/contacts/v4/extended-fields"
EXTENDED_FIELDS_QUERY = "/contacts/v4/extended-fields/query"
REVIEWS = "/reviews/v1/reviews"
REVIEWS_QUERY = "/reviews/v1/reviews/query"
REVIEWS_BULK_CREATE = "/reviews/v1/bulk/reviews/create"
RATINGS = "/ratings/v1/ratings"  # conjecture, see module docstring
RATINGS_QUERY = f"{RATINGS}/query"
REVIEW_REQUESTS = "/reviews/v2/review-requests"
REVIEW_REQUESTS_QUERY = "/reviews/v2/review-requests/query"
REVIEW_REQUESTS_BULK_CREATE = "/reviews/v2/bulk/review-requests/create"
OAUTH_TOKEN = "/oauth2/token"
REVIEWS_COUNT = "/reviews/v1/reviews/count"
REVIEW_REQUESTS_COUNT = "/reviews/v2/review-requests/count"
REVIEW_REQUESTS_BULK_CANCEL = "/reviews/v2/bulk/review-requests/cancel-by-filter"
