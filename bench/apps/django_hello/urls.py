from django.http import JsonResponse
from django.urls import path


def hello(request):
    return JsonResponse({'hello': 'django', 'q': request.GET.get('q', '')})


urlpatterns = [path('', hello)]
