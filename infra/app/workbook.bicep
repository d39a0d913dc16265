// The operator's Azure Monitor workbook on Application Insights: outcomes per hour by type and reason, the shared
// Partner Center budget's use by function and its health per instance, Partner Center latency and throttling (by
// function), deferred requests and refused validations, poisoned and parked requests, and one request's timeline.
// Its queries are the saved KQL files of ../queries (also in the query pack), loaded here: one copy of each.
// Workbook JSON (Notebook/1.0, KqlItem/1.0, KqlParameterItem/1.0) as the portal's Advanced Editor exports it.
param name string
param location string
param tags object = {}
param applicationInsightsName string

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The saved timeline query names an example request; the workbook asks for one instead.
var timelineExample = 'let wanted = "crm-7f3c2a9e-0001";'
var timelineQuery = replace(loadTextContent('../queries/request-timeline.kql'), timelineExample, 'let wanted = "{requestId}";')
var day = 86400000

// A query panel on the app's Application Insights over the workbook's time range.
func panel(name string, title string, query string, visualization string, resourceId string) object => {
  type: 3
  name: name
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: query
    queryType: 0
    resourceType: 'microsoft.insights/components'
    crossComponentResources: [resourceId]
    timeContextFromParameter: 'TimeRange'
    timeContext: { durationMs: 86400000 }
    visualization: visualization
    size: 0
  }
}

var header = {
  type: 1
  name: 'header'
  content: {
    json: '## CSP customer onboarding\nOutcomes, the shared Partner Center budget, Partner Center, backpressure, poisoned and parked requests, and one request\'s timeline. What waits in the queues right now: `python -m ops.status` (README, Operating it).'
  }
}

var parameters = {
  type: 9
  name: 'parameters'
  content: {
    version: 'KqlParameterItem/1.0'
    style: 'pills'
    queryType: 0
    resourceType: 'microsoft.insights/components'
    parameters: [
      {
        id: guid(name, 'TimeRange')
        version: 'KqlParameterItem/1.0'
        name: 'TimeRange'
        label: 'Time range'
        type: 4
        isRequired: true
        value: { durationMs: day }
        typeSettings: {
          allowCustom: true
          selectableValues: [{ durationMs: 3600000 }, { durationMs: day }, { durationMs: 7 * day }, { durationMs: 30 * day }]
        }
      }
      {
        id: guid(name, 'requestId')
        version: 'KqlParameterItem/1.0'
        name: 'requestId'
        label: 'requestId (timeline)'
        type: 1
        value: ''
      }
    ]
  }
}

var items = [
  header
  parameters
  panel('outcomes', 'Outcomes per hour, by type and reason', loadTextContent('../queries/outcomes-per-hour.kql'), 'barchart', appInsights.id)
  panel('budget', 'The shared Partner Center budget: calls per minute by function, and the budget', loadTextContent('../queries/partner-center-budget.kql'), 'timechart', appInsights.id)
  panel('budgetHealth', 'The shared budget per instance: storage operations a call, fallback', loadTextContent('../queries/partner-center-budget-health.kql'), 'table', appInsights.id)
  panel('throttling', 'Partner Center throttling (429 answers), by function', loadTextContent('../queries/partner-center-throttling.kql'), 'timechart', appInsights.id)
  panel('backpressure', 'Requests deferred, validations answered 429', loadTextContent('../queries/backpressure.kql'), 'barchart', appInsights.id)
  panel('latency', 'Partner Center latency (ms), by endpoint and status', loadTextContent('../queries/partner-center-latency.kql'), 'table', appInsights.id)
  panel('poison', 'Poisoned and parked requests per hour', loadTextContent('../queries/poisoned-and-parked.kql'), 'barchart', appInsights.id)
  panel('poisoned', 'Requests that exhausted their retries', loadTextContent('../queries/poisoned-requests.kql'), 'table', appInsights.id)
  union(panel('timeline', 'One request, step by step', timelineQuery, 'table', appInsights.id), {
    conditionalVisibility: { parameterName: 'requestId', comparison: 'isNotEqualTo', value: '' }
  })
]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, name)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'CSP customer onboarding'
    category: 'workbook'
    sourceId: appInsights.id
    version: 'Notebook/1.0'
    serializedData: string({
      version: 'Notebook/1.0'
      items: items
      fallbackResourceIds: [appInsights.id]
      '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
    })
  }
}

output id string = workbook.id
